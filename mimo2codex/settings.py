"""The one settings model: defaults < files < environment < command-line flags.

Every tunable is an :class:`~mimo2codex.options.Option` in :data:`~mimo2codex.options.OPTIONS`
(mimo2codex/options.py): its field, its environment variable, its flag(s), its parser and its help
text. :class:`Settings` holds the values; :func:`load_settings` builds it once, and the README's
settings table is generated here (``python -m mimo2codex.settings --markdown``; a test fails when the
README drifts).

>>> settings = load_settings({"DS_API_KEY": "sk-1", "MIMO2CODEX_DEFAULT_PROVIDER": "ds", "MIMO2CODEX_PORT": "9999"})
>>> settings.port, settings.default.id
(9999, 'deepseek')
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mimo2codex.auth import check_bind
from mimo2codex.config_problems import PROBLEMS
from mimo2codex.errors import ConfigError
from mimo2codex.options import DEFAULT_PROVIDER, OPTIONS, Option
from mimo2codex.providers import REGISTRY, find_provider, load_providers
from mimo2codex.providers.base import Provider, ProviderContext, ProviderSource
from mimo2codex.providers.config_file import PROVIDERS_FILE_ENV, locate
from mimo2codex.routing import Router
from mimo2codex.secret import Secret
from mimo2codex.store.capture import DEFAULT_MAX_BYTES as DEFAULT_BODY_MAX
from mimo2codex.store.capture import BodyMode
from mimo2codex.vision.backend import check_vision_model

#: loader inputs that are not Settings fields (they end up inside the providers)
_INPUTS = frozenset({"api_key", "base_url", "providers_file"})


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8788
    data_dir: Path = field(default_factory=lambda: Path("~/.mimo2codex").expanduser())
    verbose: bool = False
    #: well under Codex's 300 s idle timeout (CONTRACT §1.8)
    keepalive_interval: float = 15.0
    connect_timeout: float = 10.0
    first_byte_timeout: float = 600.0
    idle_timeout: float = 180.0
    max_body_bytes: int = 64 << 20
    #: small on purpose: Codex itself retries 5xx (request_max_retries) and failed streams
    #: (stream_max_retries), so every retry here multiplies with those (README "Retries")
    max_retries: int = 2
    #: how long a streamed request waits for the upstream's status line before it commits to
    #: HTTP 200 + keepalives; within it an upstream 429/4xx is passed on as a real HTTP status
    status_grace: float = 2.0
    #: honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY for upstream requests
    use_proxy: bool = True
    shutdown_grace: float = 10.0
    #: uvicorn worker processes; each has its own event loop, upstream pool and request log
    workers: int = 1
    expose_reasoning: bool = True
    #: thinking mode upstream, for providers with a switch (MiMo)
    thinking: bool = True
    #: forward Codex's web_search tool to vendors with their own (opt-in: it can cost money)
    web_search: bool = False
    #: summarise the oldest turns when a request would overflow the routed model's window (opt-in)
    auto_compact: bool = False
    #: how long ``store: true`` responses are kept for ``previous_response_id`` and GET (0: forever)
    stored_response_days: int = 30
    #: ``--vision-model``: "provider/model", "off", or None (each provider's own vision model); read at
    #: request time from ``gateway.vision.choice``, which starts with this value
    vision_model: str | None = None
    admin: bool = True
    #: what the admin API requires as a bearer token; None: the inbound tokens (admin/security.py)
    admin_token: Secret | None = None
    auth_tokens: tuple[Secret, ...] = ()
    insecure_no_auth: bool = False
    #: request log (mimo2codex.store): PostgreSQL URL (None: SQLite at <data dir>/data.db)
    database_url: Secret | None = None
    request_log: bool = True
    log_bodies: BodyMode = "errors-only"
    log_body_max: int = DEFAULT_BODY_MAX
    log_retention_days: int = 30
    log_max_mb: int = 0
    #: every configured provider, keyed or not, in listing order (built-ins first)
    providers: tuple[Provider, ...] = ()
    default_provider: str = ""
    #: the providers file that was read, if any
    providers_file: Path | None = None
    #: problems that did not stop the start (banner, log)
    warnings: tuple[str, ...] = ()
    #: where each option that was set came from, field -> its env var or flag (the admin's locks,
    #: and what a live reload keeps: admin/runtime.py)
    sources: Mapping[str, str] = field(default_factory=dict)

    def router(self) -> Router:
        by_id = {p.id: p for p in self.providers}
        default = by_id.get(self.default_provider) or (self.providers[0] if self.providers else None)
        if default is None:
            raise ConfigError("no upstream provider configured")
        return Router.build(self.providers, default)

    @property
    def default(self) -> Provider:
        return self.router().default

    @property
    def keyed_providers(self) -> tuple[Provider, ...]:
        return tuple(p for p in self.providers if p.api_key)

    @property
    def listen_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port}"


_FIELD_NAMES = {f.name for f in fields(Settings)}
_DEFAULTS = Settings()


def _raw_values(env: Mapping[str, str], flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Option values from env then flags, and for each the name of its source (for messages)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        raw = env.get(option.env) if option.env else None
        if raw is None or raw.strip() == "":
            continue
        try:
            value = option.parse(raw)
        except ValueError as exc:
            raise PROBLEMS["bad_value"].error(name=option.env, value=repr(raw), reason=exc) from None
        values[option.field] = (not value) if option.env_inverted else value
        sources[option.field] = option.env or ""
    by_field = {o.field: o for o in OPTIONS}
    for name, value in flags.items():
        if value is None:
            continue
        if name not in by_field and name not in _FIELD_NAMES:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = value
        known = by_field.get(name)
        sources[name] = known.flag if known else name
    return values, sources


def load_settings(
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    *,
    registry: Mapping[str, ProviderSource] = REGISTRY,
    serving: bool = True,
) -> Settings:
    """Settings from ``env`` (default: the process environment) and already-parsed CLI ``flags``.

    ``serving=False`` is for commands that only print configuration (``print-config``): they must
    work before the user has a key, and they listen on nothing (no bind check). Raises :class:`ConfigError` naming the variable, flag,
    file, provider and field at fault.
    """
    env = os.environ if env is None else env
    values, sources = _raw_values(env, flags or {})
    api_key: Secret | None = values.pop("api_key", None)
    base_url: str | None = values.pop("base_url", None)
    explicit_file: Path | None = values.pop("providers_file", None)

    data_dir: Path = values.get("data_dir", _DEFAULTS.data_dir)
    providers_file = locate(explicit_file, data_dir, name=sources.get("providers_file", PROVIDERS_FILE_ENV))
    ctx = ProviderContext(
        env,
        providers_file=providers_file,
        thinking=values.get("thinking", _DEFAULTS.thinking),
        web_search=values.get("web_search", _DEFAULTS.web_search),
    )
    loaded = load_providers(ctx, registry)
    if not loaded:
        raise ConfigError("no upstream provider configured")

    warnings = list(ctx.warnings)
    wanted = values.pop("default_provider", None)
    if wanted is None:
        default = find_provider(loaded, DEFAULT_PROVIDER) or loaded[0]
        keyed = [p for p in loaded if p.api_key]
        if not default.api_key and len(keyed) == 1:
            # Nobody named a default and the usual one has no key: the only provider with a key is
            # the one the user means (the Node tool failed here instead).
            warnings.append(PROBLEMS["implicit_default"].message(name=default.display_name, chosen=keyed[0].handle))
            default = keyed[0]
    else:
        found = find_provider(loaded, wanted)
        if found is None:
            known = ", ".join(f"{p.handle} ({p.id})" if p.handle != p.id else p.id for p in loaded)
            raise PROBLEMS["unknown_provider"].error(name=sources["default_provider"], value=wanted, known=known)
        default = found

    providers: list[Provider] = []
    for provider in loaded:
        overrides: dict[str, str | None] = {}
        if provider.id == default.id:
            overrides = {"api_key": api_key.reveal() if api_key else None, "base_url": base_url}
        resolved, found_warnings = provider.with_credentials(env, **overrides)
        if resolved.api_key:
            warnings += found_warnings
            warnings += resolved.quirks.startup_warnings(resolved)
        providers.append(resolved)
        if provider.id == default.id:
            default = resolved

    if serving and not default.api_key:
        raise _missing_key(default, providers)

    warnings += check_vision_model(values.get("vision_model"), providers, sources.get("vision_model", ""))
    values["providers"] = tuple(providers)
    values["default_provider"] = default.id
    values["providers_file"] = providers_file
    values["warnings"] = tuple(dict.fromkeys(warnings))
    values["sources"] = dict(sources)
    settings = Settings(**values)
    if serving:
        check_bind(settings.host, settings.auth_tokens, settings.insecure_no_auth)
        _check_database_driver(settings.database_url, sources.get("database_url", "MIMO2CODEX_DATABASE_URL"))
    settings.router()  # fail at startup, not on the first request
    return settings


def _check_database_driver(url: Secret | None, source: str) -> None:
    """A PostgreSQL URL needs the optional driver: say so at startup, not as a traceback in the lifespan."""
    if url is None or not url.reveal().startswith(("postgres://", "postgresql://")):
        return
    if importlib.util.find_spec("psycopg") is None or importlib.util.find_spec("psycopg_pool") is None:
        raise ConfigError(
            f"{source} is a PostgreSQL URL, but the PostgreSQL driver is not installed: "
            "pip install 'mimo2codex[postgres]' (or unset it to log to SQLite in the data directory)"
        )


def _missing_key(default: Provider, providers: list[Provider]) -> ConfigError:
    env = " or ".join(default.endpoint.key_envs) if default.endpoint else "its API key variable"
    if default.docs_url:
        where = f"Get a key at {default.docs_url}."
    else:
        where = f"Get a key from the vendor of {default.base_url}."
    handles = ", ".join(p.handle for p in providers if p.api_key)
    keyed = f"providers with a key: {handles}" if handles else "no provider has a key yet"
    return PROBLEMS["default_without_key"].error(
        name=default.display_name, id=default.id, env=env, where_to_get=where, keyed=keyed
    )


# -- documentation --------------------------------------------------------------------------------


def _default_text(option: Option) -> str:
    if option.switch is not None:
        return "off"
    if option.field in _INPUTS:
        return {"providers_file": "`<data dir>/providers.json`"}.get(option.field, "—")
    if option.field == "default_provider":
        return f"`{DEFAULT_PROVIDER}`"
    value = getattr(_DEFAULTS, option.field)
    if option.field == "data_dir":
        return "`~/.mimo2codex`"
    if option.field == "max_body_bytes":
        return f"`{value >> 20}M`"
    if option.field in ("auth_tokens", "admin_token"):
        return "none"
    if option.field == "vision_model":
        return "the provider's own"
    if option.field == "database_url":
        return "SQLite `<data dir>/data.db`"
    if option.field == "log_body_max":
        return f"`{value >> 10}K`"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def settings_table() -> str:
    """The README's settings table (between the ``settings-table`` markers)."""
    lines = ["| Flag | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        flags = [option.flag] if option.short is None else [f"{option.short}, {option.flag}"]
        if option.metavar and option.switch is None:
            flags = [f"{flags[0]} {option.metavar}"]
        if option.flag_off:
            flags.append(option.flag_off)
        flag_text = " / ".join(f"`{f}`" for f in flags)
        env_text = f"`{option.env}`" if option.env else "—"
        if option.env and option.switch is not None:
            env_text += "=1"
        lines.append(f"| {flag_text} | {env_text} | {_default_text(option)} | {option.help} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m mimo2codex.settings --markdown
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m mimo2codex.settings --markdown")
    sys.stdout.write(settings_table())
