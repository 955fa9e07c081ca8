"""``mimo2codex codex enable|status|restore``: point Codex at the gateway by editing its own files.

``enable`` merges what :func:`mimo2codex.snippets.render_snippets` renders (the one renderer behind
``print-config`` and the admin Setup page) into ``$CODEX_HOME/config.toml`` with a style-preserving
TOML library, so comments, ``[projects]``, ``[mcp_servers]`` and every other section stay as the user
wrote them. ``auth.json`` is written only when the ChatGPT login is not kept. Before the first change
the original files are copied aside, and ``restore`` puts them back byte for byte (or removes a file
that did not exist). Every change also leaves a timestamped backup of what it replaced.

>>> home = Path(tempfile.mkdtemp())
>>> setup_state(home).enabled
False

The manifest ``<CODEX_HOME>/mimo2codex-backups/setup.json`` records the originals; it never holds a
key (Codex authenticates to the gateway with a local placeholder or an inbound token from the env).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from mimo2codex.atomic import write_atomic
from mimo2codex.errors import ConfigError
from mimo2codex.settings import Settings
from mimo2codex.snippets import CLIENT_KEY_ENV, LOCAL_CLIENT_KEY, render_snippets
from mimo2codex.subcommands import Subcommand

BACKUP_DIR = "mimo2codex-backups"
MANIFEST = "setup.json"
FILES = ("config.toml", "auth.json")
#: top-level keys a snippet may set; ones it leaves out are removed, so a window that belonged to the
#: user's previous model cannot stay behind (restore brings them back)
MANAGED_KEYS = (
    "model",
    "model_provider",
    "model_context_window",
    "model_auto_compact_token_limit",
    "web_search",
    "model_catalog_json",
)


def codex_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("CODEX_HOME", "").strip()
    return Path(configured).expanduser() if configured else Path("~/.codex").expanduser()


@dataclass(frozen=True, slots=True)
class SetupState:
    """What ``codex status`` reports."""

    home: str
    enabled: bool
    provider_key: str | None = None
    model: str | None = None
    base_url: str | None = None
    keep_login: bool | None = None
    #: config.toml's current model_provider (may differ from ours if the user switched by hand)
    active_provider: str | None = None
    #: the variable Codex reads its gateway token from (inbound tokens with the login kept), if any
    key_env: str | None = None
    #: config.toml or auth.json changed since enable (restore still brings back the originals)
    edited_since: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _stamp(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"


def _load_manifest(home: Path) -> dict[str, Any] | None:
    raw = _read(home / BACKUP_DIR / MANIFEST)
    if raw is None:
        return None
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{home / BACKUP_DIR / MANIFEST}: not valid JSON ({exc}); move it aside to start over"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ConfigError(f"{home / BACKUP_DIR / MANIFEST}: not a mimo2codex setup manifest")
    return manifest


def _backup(home: Path, name: str, data: bytes | None, stamp: str, label: str) -> str | None:
    """Copy ``data`` (a file's current bytes) aside; returns the backup's name."""
    if data is None:
        return None
    backup = f"{name}.{stamp}.{label}"
    write_atomic(home / BACKUP_DIR / backup, data, mode=0o600)
    return backup


def _parse_config(path: Path, data: bytes | None) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse((data or b"").decode("utf-8"))
    except (TOMLKitError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot be read as TOML ({exc}); fix it or move it aside, nothing was changed"
        ) from None


def _merged_config(document: tomlkit.TOMLDocument, snippet: str) -> str:
    wanted = tomlkit.parse(snippet)
    for key in MANAGED_KEYS:
        if key in wanted:
            document[key] = wanted[key]
        elif key in document:
            del document[key]
    providers = document.get("model_providers")
    if not isinstance(providers, Table):
        providers = tomlkit.table(is_super_table=True)
        document["model_providers"] = providers
    for key, table in wanted["model_providers"].items():
        providers[key] = table
    return tomlkit.dumps(document)


def _snippet_for(settings: Settings, keep_login: bool) -> tuple[str, str | None]:
    """(config.toml text, auth.json text or None when the login is kept)."""
    snippets = render_snippets(settings)
    if not keep_login:
        return snippets.config_toml, snippets.auth_json
    if settings.auth_tokens:
        # The inbound token is the user's secret: it stays in their environment, never in a file.
        return snippets.config_toml_env_key, None
    # Keeping the ChatGPT login in auth.json: Codex sends the local placeholder as an inline bearer
    # token instead (the env-key variant would need a variable set in every shell).
    document = tomlkit.parse(snippets.config_toml_env_key)
    table = document["model_providers"][snippets.provider_key]
    del table["env_key"]
    del table["env_key_instructions"]
    table["experimental_bearer_token"] = LOCAL_CLIENT_KEY
    return tomlkit.dumps(document), None


def enable(
    settings: Settings, home: Path, *, keep_login: bool = False, now: Callable[[], float] = time.time
) -> SetupState:
    """Point Codex at the gateway for the settings' default provider (``--model P``)."""
    config_path = home / "config.toml"
    current = {name: _read(home / name) for name in FILES}
    document = _parse_config(config_path, current["config.toml"])  # refuse before touching anything
    config_text, auth_text = _snippet_for(settings, keep_login)
    new = {"config.toml": _merged_config(document, config_text).encode("utf-8")}
    if auth_text is not None:
        new["auth.json"] = auth_text.encode("utf-8")

    stamp = _stamp(now())
    manifest = _load_manifest(home) or {"version": 1, "created": stamp, "files": {}}
    backups: list[str] = list(manifest.get("backups", []))
    for name, data in new.items():
        entry = manifest["files"].get(name)
        if entry is None:  # the first change to this file: keep the original for restore
            original = _backup(home, name, current[name], stamp, "orig")
            manifest["files"][name] = {"existed": current[name] is not None, "original": original}
        elif current[name] != data:
            saved = _backup(home, name, current[name], stamp, "bak")
            if saved:
                backups.append(saved)
    snippet = render_snippets(settings)
    manifest.update(
        backups=backups,
        provider_key=snippet.provider_key,
        model=snippet.model,
        base_url=snippet.base_url,
        keep_login=keep_login,
        key_env=CLIENT_KEY_ENV if keep_login and settings.auth_tokens else None,
        written={name: _digest(data) for name, data in new.items()},
    )
    # The manifest first: a crash between the two writes leaves a restorable state.
    write_atomic(home / BACKUP_DIR / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode(), mode=0o600)
    for name, data in new.items():
        write_atomic(home / name, data, mode=0o600 if name == "auth.json" else None)
    return setup_state(home)


def restore(home: Path, *, now: Callable[[], float] = time.time) -> SetupState:
    """Put back the files ``enable`` found, byte for byte; what is there now is backed up first."""
    manifest = _load_manifest(home)
    if manifest is None:
        raise ConfigError(f"nothing to restore: `mimo2codex codex enable` has not changed {home}")
    stamp = _stamp(now())
    for name, entry in manifest["files"].items():
        path = home / name
        _backup(home, name, _read(path), stamp, "before-restore")
        if entry.get("existed"):
            original = _read(home / BACKUP_DIR / str(entry["original"]))
            if original is None:
                raise ConfigError(f"the backup of {name} ({entry['original']}) is missing from {home / BACKUP_DIR}")
            write_atomic(path, original)
        else:
            path.unlink(missing_ok=True)
    (home / BACKUP_DIR / MANIFEST).unlink()
    return setup_state(home)


def setup_state(home: Path) -> SetupState:
    try:
        manifest = _load_manifest(home)
    except ConfigError as exc:
        return SetupState(str(home), enabled=False, problem=str(exc))
    backups = sorted(p.name for p in (home / BACKUP_DIR).glob("*.*.*")) if (home / BACKUP_DIR).is_dir() else []
    active = None
    config = _read(home / "config.toml")
    problem = None
    if config is not None:
        try:
            value = tomlkit.parse(config.decode("utf-8")).get("model_provider")
            active = str(value) if value is not None else None
        except (TOMLKitError, UnicodeDecodeError) as exc:
            problem = f"{home / 'config.toml'} is not valid TOML: {exc}"
    if manifest is None:
        return SetupState(str(home), enabled=False, active_provider=active, backups=backups, problem=problem)
    written: dict[str, str | None] = manifest.get("written", {})
    edited = [name for name, digest in written.items() if _digest(_read(home / name)) != digest]
    return SetupState(
        str(home),
        enabled=True,
        provider_key=manifest.get("provider_key"),
        model=manifest.get("model"),
        base_url=manifest.get("base_url"),
        keep_login=manifest.get("keep_login"),
        active_provider=active,
        key_env=manifest.get("key_env"),
        edited_since=edited,
        backups=backups,
        problem=problem,
    )


# -- the command line ------------------------------------------------------------------------------


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="codex_action", metavar="ACTION", required=True)
    enabler = actions.add_parser("enable", help="point Codex at mimo2codex (the provider given by --model)")
    enabler.add_argument(
        "--keep-login", action="store_true", help="leave auth.json (a ChatGPT login) alone; Codex sends a local token"
    )
    status = actions.add_parser("status", help="show what `enable` changed")
    restorer = actions.add_parser("restore", help="put config.toml and auth.json back as they were before `enable`")
    for action in (enabler, status, restorer):
        action.add_argument("--json", action="store_true", help="print the state as JSON")


def _describe(state: SetupState, action: str) -> str:
    if not state.enabled:
        lines = [f"Codex ({state.home}) is not set up by mimo2codex."]
        if action == "restore":
            lines = [f"Restored Codex's original config.toml and auth.json in {state.home}."]
        if state.active_provider:
            lines.append(f"config.toml uses model_provider = {state.active_provider!r}.")
    else:
        login = "ChatGPT login kept" if state.keep_login else "auth.json points at mimo2codex"
        lines = [
            f"Codex ({state.home}) uses mimo2codex: model {state.model!r} via [model_providers.{state.provider_key}]",
            f"at {state.base_url} ({login}).",
        ]
        if state.active_provider != state.provider_key:
            lines.append(f"Note: config.toml now selects model_provider = {state.active_provider!r}.")
        if state.edited_since:
            lines.append(f"Edited since: {', '.join(state.edited_since)} (restore backs the current files up first).")
        if state.key_env:
            lines.append(f"Codex reads its token for mimo2codex from ${state.key_env}: export it before `codex`.")
        lines.append("Restart Codex (the desktop app too); `mimo2codex codex restore` undoes this.")
    if state.problem:
        lines.append(f"Problem: {state.problem}")
    return "\n".join(lines) + "\n"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    home = codex_home()
    action: str = args.codex_action
    if action == "enable":
        state = enable(settings, home, keep_login=args.keep_login)
    elif action == "restore":
        state = restore(home)
    else:
        state = setup_state(home)
    sys.stdout.write(json.dumps(state.to_json(), indent=2) + "\n" if args.json else _describe(state, action))
    return 0


CODEX = Subcommand("codex", "set up Codex to use mimo2codex: enable | status | restore", _configure, _run)
