"""The toggles and storage policy the admin keeps in the store, applied when a gateway starts.

A value set in the admin's Settings (a runtime toggle such as ``default_provider``, or the storage
policy) is kept in the store's ``settings`` table, shared by every instance on one database. A starting
gateway reads it before it checks its configuration, so it starts as it ran: precedence, lowest first,
is defaults < providers.json < stored settings < environment < flags. An option given by an env var or
a flag is locked (:meth:`~mimo2codex.admin.runtime.LiveConfig.lock`): its stored value is not read.

A stored value that no longer loads (the default provider was removed from providers.json, or lost its
key) never stops the start: it is left out, and the warning (``stored_setting_ignored``) names it once.
The admin's watcher applies the same rule (:func:`resolve`) to what other instances store later.

>>> from mimo2codex.settings import load_settings
>>> env = {"MIMO_API_KEY": "sk-1", "DS_API_KEY": "sk-2"}
>>> resolved = resolve(lambda extra: load_settings(env, extra), {"default_provider": "deepseek", "thinking": "yes"})
>>> resolved.settings.default.id, resolved.applied, list(resolved.ignored)
('deepseek', {'default_provider': 'deepseek'}, ['thinking'])
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from mimo2codex.admin.context import database_error
from mimo2codex.admin.runtime import LiveConfig
from mimo2codex.admin.toggles import BY_NAME, POLICY
from mimo2codex.config_problems import PROBLEMS
from mimo2codex.errors import ConfigError, InvalidRequest
from mimo2codex.options import OPTIONS
from mimo2codex.settings import Settings, load_settings
from mimo2codex.store import POSTGRES_SCHEMES, sqlite_path
from mimo2codex.store.preferences import check_setting

log = logging.getLogger("mimo2codex.admin")

#: every stored setting a starting gateway applies: the runtime toggles, then the storage policy
STORED = (*BY_NAME, *POLICY)
_PARSERS = {option.field: option.parse for option in OPTIONS}
_FLAGS = {option.field: option.flag for option in OPTIONS}
#: seconds a starting gateway waits for a PostgreSQL server before it starts without the stored values
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True, slots=True)
class Resolved:
    settings: Settings
    #: the stored values the settings hold
    applied: dict[str, Any]
    #: name -> (stored value, why it was left out)
    ignored: dict[str, tuple[Any, str]]

    def warnings(self) -> list[str]:
        return [warning(name, value, reason) for name, (value, reason) in self.ignored.items()]


def warning(name: str, value: Any, reason: str) -> str:
    return PROBLEMS["stored_setting_ignored"].message(name=name, value=orjson.dumps(value).decode(), reason=reason)


def _checked(name: str, value: Any) -> Any:
    """The stored value as the loader takes it; raises ValueError saying what is wrong with it."""
    try:
        value = check_setting(name, value)
    except InvalidRequest as exc:
        raise ValueError(exc.message) from None
    toggle = BY_NAME.get(name)
    parse = _PARSERS.get(name)
    if toggle is not None and toggle.kind == "text" and parse is not None:
        return parse(value)  # the option's own check: "PROVIDER/MODEL or off" for vision_model
    return value


def resolve(build: Callable[[Mapping[str, Any]], Settings], wanted: Mapping[str, Any]) -> Resolved:
    """Settings built with as many of the ``wanted`` stored values as load together.

    ``build(values)`` loads the settings with ``values`` added (raising ``ConfigError``). A value that
    fails its own check, or whose removal alone makes the settings load, is ignored with the reason.
    When no single removal helps, every stored value is ignored; when the settings do not load even
    without them, the loader's own error is raised: the stored values are not what is wrong.
    """
    ignored: dict[str, tuple[Any, str]] = {}
    values: dict[str, Any] = {}
    for name, value in wanted.items():
        try:
            values[name] = _checked(name, value)
        except ValueError as exc:
            ignored[name] = (value, str(exc))
    try:
        return Resolved(build(values), values, ignored)
    except ConfigError as exc:
        problem = str(exc)
    for name in values:
        rest = {key: value for key, value in values.items() if key != name}
        try:
            settings = build(rest)
        except ConfigError:
            continue
        # the loader names the flag the value was passed as; the user set it in the admin, not there
        reason = problem.removeprefix(f"{_FLAGS.get(name)}={values[name]}: ")
        return Resolved(settings, rest, {**ignored, name: (values[name], reason)})
    settings = build({})
    return Resolved(settings, {}, {**ignored, **{name: (value, problem) for name, value in values.items()}})


def _sqlite_rows(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []  # the first start: nothing stored yet (and nothing is created here)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"migrations", "settings"} <= tables:
            return []  # not opened by this version yet (a Node tool's database has its own settings table)
        return [(str(key), str(value)) for key, value in conn.execute("SELECT key, value FROM settings")]
    finally:
        conn.close()


def _postgres_rows(url: str) -> list[tuple[str, str]]:
    try:
        import psycopg
    except ImportError:
        return []  # the loader says the driver is missing, with what to install
    with psycopg.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="mimo2codex-startup"
    ) as conn:
        found = conn.execute("SELECT to_regclass('settings') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return []
        rows = conn.execute("SELECT key, value FROM settings").fetchall()
        return [(str(key), str(value)) for key, value in rows]


def read_stored(settings: Settings) -> dict[str, Any]:
    """The stored settings of ``settings``' store, read without opening it for writing.

    A database that cannot be read does not stop the start: the gateway starts without the stored
    values (a warning says why), and the admin's watcher applies them once the store can be read.
    """
    url = settings.database_url.reveal() if settings.database_url else ""
    postgres = url.startswith(POSTGRES_SCHEMES)
    try:
        rows = _postgres_rows(url) if postgres else _sqlite_rows(sqlite_path(settings))
    except Exception as exc:
        if not database_error(exc):
            raise
        where = "the PostgreSQL database" if postgres else str(sqlite_path(settings))
        first = (str(exc) or type(exc).__name__).splitlines()[0]
        log.warning("the admin's stored settings in %s cannot be read (%s): starting without them", where, first)
        return {}
    stored: dict[str, Any] = {}
    for key, text in rows:
        if key in STORED:
            try:
                stored[key] = orjson.loads(text)
            except orjson.JSONDecodeError:
                stored[key] = text  # refused by its check, with the value named
    return stored


def startup_settings(env: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None) -> Settings:
    """:func:`~mimo2codex.settings.load_settings` for a gateway that serves, with the stored settings.

    The stored values are not recorded in ``Settings.sources``: they do not lock their toggle, and the
    admin shows them as its own (``source: admin``). Values left out are added to ``warnings``
    (the banner and the admin's Health show them; the admin does not log them a second time).
    """
    env = os.environ if env is None else env
    given = dict(flags or {})
    base = load_settings(env, given, serving=False)  # where the store is, and what flags and env lock
    live = LiveConfig(base, env)
    stored = read_stored(base)
    wanted = {name: stored[name] for name in STORED if name in stored and live.lock(name) is None}
    if not wanted:
        return load_settings(env, given)
    resolved = resolve(lambda extra: load_settings(env, {**given, **extra}), wanted)
    settings = resolved.settings
    return replace(
        settings,
        sources=base.sources,
        warnings=tuple(dict.fromkeys([*settings.warnings, *resolved.warnings()])),
    )
