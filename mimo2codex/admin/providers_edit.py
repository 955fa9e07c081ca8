"""``GET|PUT generic-providers``: providers.json edited safely, applied without a restart.

A PUT is checked by the very loader the gateway starts with, on the very bytes that will be installed:
they are written to a temporary file beside ``providers.json`` (fsynced), loaded with ``load_settings``
(the startup messages, naming the file, the provider and the field), and only then is the current file
copied to a timestamped backup and the temporary file renamed over it. The new provider registry is
swapped in at once; requests in flight finish on the old one. A file that does not load is refused and
never replaces the working one. Hand edits are picked up by :class:`FileWatcher` (mtime, once a second).

No key ever passes here: the file names the variable a key is read from (``envKey``), and a field or a
value that looks like a key is refused with a message saying to use that variable instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.admin.carry_over import env_entry, with_entry
from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.runtime import providers_path
from mimo2codex.admin.spec import ANY_OBJ, BOOL, STR, ApiRoute, arr, nullable, obj
from mimo2codex.atomic import write_atomic
from mimo2codex.config_problems import PROBLEMS
from mimo2codex.errors import ConfigError, InvalidRequest
from mimo2codex.http_body import json_response, read_json_object
from mimo2codex.providers.config_file import read as read_entries
from mimo2codex.providers.generic import ENV_SOURCE
from mimo2codex.redaction import MASK, redact
from mimo2codex.settings import Settings

log = logging.getLogger("mimo2codex.admin")

#: the largest providers.json the admin accepts (a real one is a few KB)
MAX_BYTES = 1 << 20
#: backups kept beside providers.json; older ones are removed
KEEP_BACKUPS = 20
BACKUP_DIR = "providers-backups"
#: field names that can only hold a secret ("envKey" names a variable: allowed)
_KEY_FIELD = re.compile(
    r"(?i)^(api[_-]?key|apikey|key|secret|secret[_-]?key|token|access[_-]?token|password|authorization|bearer)$"
)


def _walk(value: Any, where: str) -> Iterator[tuple[str, str | None, Any]]:
    """(path, field name, value) of every field and item below ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            at = f"{where}.{key}" if where else str(key)
            yield at, str(key), item
            yield from _walk(item, at)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            at = f"{where}[{index}]"
            yield at, None, item
            yield from _walk(item, at)


def refuse_keys(document: Any, known: tuple[str, ...]) -> None:
    """Raise when a field is named like a key or a string value looks like one."""
    for at, name, value in _walk(document, ""):
        if name is not None and _KEY_FIELD.match(name):
            raise InvalidRequest(
                f"{at}: API keys are never stored in providers.json nor accepted by the admin. Put the key in an "
                "environment variable and name that variable in the provider's envKey field",
                code="key_refused",
                param=at,
            )
        if isinstance(value, str) and (value in known or MASK in redact(value)):
            raise InvalidRequest(
                f"{at}: this value looks like an API key. Keys are never stored in providers.json nor accepted by "
                "the admin: put it in an environment variable and name that variable in envKey",
                code="key_refused",
                param=at,
            )


def _known_keys(settings: Settings) -> tuple[str, ...]:
    return tuple(p.api_key.reveal() for p in settings.providers if p.api_key)


def _document_bytes(body: dict[str, Any]) -> bytes:
    """The bytes to install: ``raw`` text as given (checked as the file would be), or ``providers`` dumped."""
    raw = body.get("raw")
    if raw is not None:
        if not isinstance(raw, str):
            raise InvalidRequest("raw must be the text of providers.json", param="raw")
        data = raw.encode("utf-8")
    else:
        entries = body.get("providers")
        if not isinstance(entries, list):
            raise InvalidRequest(
                'body must be {"providers": [...]} (or {"raw": "<file text>"})', code="invalid_body", param="providers"
            )
        document = {key: value for key, value in body.items() if key not in ("providers", "raw")}
        document["providers"] = entries
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if len(data) > MAX_BYTES:
        raise InvalidRequest(f"providers.json over {MAX_BYTES} bytes is refused", param="raw")
    return data


@dataclass(frozen=True, slots=True)
class Installed:
    settings: Settings
    path: Path
    backup: str | None


def _write_temp(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(name)


def _backup(path: Path, now: float) -> str | None:
    if not path.exists():
        return None
    folder = path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    target = folder / f"{path.name}.{stamp}"
    shutil.copy2(path, target)
    for old in sorted(folder.glob(f"{path.name}.*"))[:-KEEP_BACKUPS]:
        old.unlink(missing_ok=True)
    return str(target)


def install(ctx: AdminContext, data: bytes, now: float, toggles: Mapping[str, Any] | None = None) -> Installed:
    """Validate ``data`` as providers.json and install it; blocking (called on a worker thread).

    ``toggles``: the runtime toggles to build with (None: the current ones).
    """
    path = providers_path(ctx.live.current)
    temp = _write_temp(path, data)
    try:
        ctx.live.build(toggles=toggles, providers_file=temp)
    except ConfigError as exc:
        raise InvalidRequest(str(exc).replace(str(temp), str(path)), code="invalid_providers") from None
    finally:
        temp.unlink(missing_ok=True)
    backup = _backup(path, now)
    write_atomic(path, data)
    settings = ctx.live.build(toggles=toggles)  # from the installed file, so messages and sources name it
    return Installed(settings, path, backup)


async def get_generic_providers(ctx: AdminContext, request: Request) -> Response:
    path = providers_path(ctx.live.current)
    exists = path.is_file()
    result: dict[str, Any] = {
        "specs": [],
        "path": str(path),
        "source": "env" if "providers_file" in ctx.live.startup.sources else "dataDir",
        "exists": exists,
        "editable": True,
        "raw": None,
        "error": None,
        "reload": ctx.reload.to_json(),
    }
    if exists:
        try:
            result["raw"] = await ctx.call(path.read_text, "utf-8")
            result["specs"] = await ctx.call(read_entries, path)
        except (ConfigError, OSError, UnicodeDecodeError) as exc:
            result["error"] = str(exc)
    return json_response(result)


@dataclass(frozen=True, slots=True)
class Carry:
    """The GENERIC_* provider carried into the first providers.json (:mod:`mimo2codex.admin.carry_over`)."""

    data: bytes
    id: str
    #: it was the default provider by the implicit rule: pinned (the default_provider toggle) so that
    #: a second keyed provider in the file does not hand the default back to one without a key
    pin: bool


def _carry(ctx: AdminContext, data: bytes) -> Carry | None:
    """How the first write must carry the GENERIC_* provider; None when there is nothing to carry."""
    if providers_path(ctx.live.current).exists():
        return None
    settings = ctx.settings
    entry = env_entry(settings)
    carried = None if entry is None else with_entry(data, entry)
    if entry is None or carried is None:
        return None
    implicit = ctx.live.lock("default_provider") is None and "default_provider" not in ctx.live.toggles
    return Carry(carried, entry["id"], implicit and settings.default_provider == entry["id"])


def _saved_message(installed: Installed, carry: Carry | None) -> str:
    text = f"Saved and applied: {len(installed.settings.providers)} providers active."
    if carry is None:
        return text
    text += (
        f" The provider '{carry.id}' of the GENERIC_* environment variables was added to {installed.path} "
        f"(its key stays in GENERIC_API_KEY): with a providers file the GENERIC_* variables are no longer read."
    )
    if carry.pin:
        text += (
            " It stays the default provider (Settings, default_provider), after a restart too: the toggle is stored."
        )
    return text


def _warnings(installed: Installed, carry: Carry | None) -> list[str]:
    warnings = list(installed.settings.warnings)
    if carry is not None:  # "declare that provider in the file instead": just done, and said in the message
        ignored = PROBLEMS["generic_env_ignored"].message(file=installed.path)
        warnings = [w for w in warnings if w != ignored]
    return warnings


async def put_generic_providers(ctx: AdminContext, request: Request) -> Response:
    body = await read_json_object(request, MAX_BYTES + 4096)
    data = _document_bytes(body)
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None  # the loader reports where the text is broken, with line and column
    if parsed is not None:
        refuse_keys(parsed, _known_keys(ctx.settings))
    async with ctx.edit_lock:
        carry = await ctx.call(_carry, ctx, data)
        toggles = None
        if carry is not None:
            data = carry.data
            if carry.pin:
                toggles = {**ctx.live.toggles, "default_provider": carry.id}
        try:
            installed = await ctx.call(install, ctx, data, ctx.clock(), toggles)
        except InvalidRequest as exc:
            ctx.refused("admin", exc.message)
            raise
        if toggles is not None:
            if ctx.store is not None:  # kept like a toggle set in Settings, so other instances follow
                await ctx.call(ctx.store.put_setting, "default_provider", toggles["default_provider"])
            ctx.live.toggles = toggles
        ctx.apply(installed.settings, "admin")
        ctx.watcher_seen(installed.path)
    log.info("providers.json updated from the admin (backup: %s)", installed.backup or "none: new file")
    if carry is not None:
        log.info("providers.json: carried the GENERIC_* provider '%s' into the new file", carry.id)
    return json_response(
        {
            "ok": True,
            "path": str(installed.path),
            "backup": installed.backup,
            "restartRequired": False,
            "applied": True,
            "warnings": _warnings(installed, carry),
            "providers": [p.id for p in installed.settings.providers],
            "carried": [] if carry is None else [{"id": carry.id, "from": ENV_SOURCE, "keptDefault": carry.pin}],
            "message": _saved_message(installed, carry),
        }
    )


ROUTES = (
    ApiRoute(
        "GET",
        "/generic-providers",
        get_generic_providers,
        "providers.json as it is on disk (entries and raw text), where it lives, and the last reload",
        "providers",
        responses={
            200: obj(
                {
                    "specs": arr(ANY_OBJ),
                    "path": STR,
                    "source": STR,
                    "exists": BOOL,
                    "editable": BOOL,
                    "raw": nullable(STR),
                    "error": nullable(STR),
                    "reload": ANY_OBJ,
                },
                "specs",
                "path",
                "exists",
                "editable",
            )
        },
    ),
    ApiRoute(
        "PUT",
        "/generic-providers",
        put_generic_providers,
        "Replace providers.json (validated as at startup, backed up, written atomically, applied at once)",
        "providers",
        body=obj(
            {
                "providers": arr(ANY_OBJ),
                "raw": {"type": "string", "description": "the whole file text, instead of providers"},
            }
        ),
        responses={
            200: obj(
                {
                    "ok": BOOL,
                    "path": STR,
                    "backup": nullable(STR),
                    "restartRequired": BOOL,
                    "applied": BOOL,
                    "warnings": arr(STR),
                    "providers": arr(STR),
                    "carried": arr(obj({"id": STR, "from": STR, "keptDefault": BOOL}, "id", "from", "keptDefault")),
                    "message": STR,
                },
                "ok",
                "path",
                "restartRequired",
                "applied",
            )
        },
    ),
)
