"""The one settings model: defaults < files < environment < command-line flags.

Every tunable is an :class:`Option` in :data:`OPTIONS`: its field, its environment variable, its
flag(s), its parser and its help text. The CLI builds its parser from this table and the README's
settings table is generated from it (``python -m mimo2codex.settings --markdown``; a test fails
when the README drifts), so flag, env var and doc cannot disagree.

>>> settings = load_settings({"DS_API_KEY": "sk-1", "MIMO2CODEX_DEFAULT_PROVIDER": "ds", "MIMO2CODEX_PORT": "9999"})
>>> settings.port, settings.default.id
(9999, 'deepseek')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mimo2codex.auth import check_bind
from mimo2codex.config_problems import PROBLEMS
from mimo2codex.errors import ConfigError
from mimo2codex.providers import REGISTRY, find_provider, load_providers
from mimo2codex.providers.base import Provider, ProviderContext, ProviderSource
from mimo2codex.providers.config_file import PROVIDERS_FILE_ENV, locate
from mimo2codex.routing import Router
from mimo2codex.secret import Secret
from mimo2codex.store.capture import DEFAULT_MAX_BYTES as DEFAULT_BODY_MAX
from mimo2codex.store.capture import BodyMode, parse_body_mode
from mimo2codex.vision.backend import check_vision_model, parse_vision_model

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

#: the default provider when neither --model nor MIMO2CODEX_DEFAULT_PROVIDER names one
DEFAULT_PROVIDER = "mimo"


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected one of 1/0, true/false, yes/no, on/off, got {value!r}")


def parse_port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"a port is a number from 0 to 65535, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"a port is a number from 0 to 65535, got {port}")
    return port


def _parse_int(value: str, minimum: int, unit: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"must be a whole number{unit}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"must be {minimum} or more, got {value!r}")
    return number


def parse_count(value: str) -> int:
    return _parse_int(value, 0, "")


def parse_workers(value: str) -> int:
    return _parse_int(value, 1, " of processes")


def parse_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise ValueError(f"must be a positive number of seconds, got {value!r}")
    return seconds


def parse_size(value: str) -> int:
    """Bytes, with an optional K/M/G suffix (binary units): ``64M``."""
    text = value.strip().upper().removesuffix("B")
    scale = 1
    for suffix, factor in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if text.endswith(suffix):
            text, scale = text[:-1], factor
            break
    try:
        size = int(float(text) * scale)
    except ValueError:
        raise ValueError(f"must be a size such as 64M, got {value!r}") from None
    if size <= 0:
        raise ValueError(f"must be a positive size, got {value!r}")
    return size


def parse_path(value: str) -> Path:
    if not value.strip():
        raise ValueError("must be a path")
    return Path(value.strip()).expanduser()


def parse_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def parse_secret(value: str) -> Secret:
    return Secret(parse_text(value))


def parse_database_url(value: str) -> Secret:
    """``postgresql://user:password@host/db`` or ``sqlite:///path``: a Secret, it can hold a password."""
    url = parse_text(value)
    if not url.startswith(("postgres://", "postgresql://", "sqlite:///")):
        raise ValueError("must start with postgresql:// (or sqlite:/// and a path)")
    return Secret(url)


def parse_tokens(value: str) -> tuple[Secret, ...]:
    """Comma-separated inbound tokens."""
    return tuple(Secret(token.strip()) for token in value.split(",") if token.strip())


@dataclass(frozen=True, slots=True)
class Option:
    #: the :class:`Settings` field, or a loader input (``api_key``, ``base_url``, ``providers_file``)
    field: str
    env: str | None
    flag: str
    parse: Callable[[str], Any]
    help: str
    #: short flag, e.g. "-p"
    short: str | None = None
    #: a switch: the value the flag stores (``--no-reasoning`` stores False); None: the flag takes a value
    switch: bool | None = None
    #: the opposite switch (``--reasoning``)
    flag_off: str | None = None
    #: the env var says the opposite of the field (``MIMO2CODEX_NO_REASONING=1`` -> expose_reasoning False)
    env_inverted: bool = False
    metavar: str | None = None


OPTIONS: tuple[Option, ...] = (
    Option("host", "MIMO2CODEX_HOST", "--host", parse_text, "address to listen on", metavar="HOST"),
    Option("port", "MIMO2CODEX_PORT", "--port", parse_port, "port to listen on", short="-p", metavar="PORT"),
    Option(
        "default_provider",
        "MIMO2CODEX_DEFAULT_PROVIDER",
        "--model",
        parse_text,
        "default provider, by id or shortcut (mimo, ds, or a generic provider): serves every model no "
        "provider with a key claims",
        metavar="PROVIDER",
    ),
    Option(
        "api_key",
        None,
        "--api-key",
        parse_secret,
        "API key of the default provider, overriding its variable (prefer the variable: other local users "
        "can read command lines)",
        metavar="KEY",
    ),
    Option(
        "base_url",
        None,
        "--base-url",
        parse_text,
        "base URL of the default provider, overriding its variable",
        metavar="URL",
    ),
    Option("data_dir", "MIMO2CODEX_DATA_DIR", "--data-dir", parse_path, "data directory", metavar="DIR"),
    Option(
        "providers_file",
        PROVIDERS_FILE_ENV,
        "--providers-file",
        parse_path,
        "generic providers file (must exist); unset, <data dir>/providers.json is read if present",
        metavar="FILE",
    ),
    Option(
        "expose_reasoning",
        "MIMO2CODEX_NO_REASONING",
        "--no-reasoning",
        parse_bool,
        "hide the model's reasoning from Codex (it is still carried between turns); --reasoning shows it",
        switch=False,
        flag_off="--reasoning",
        env_inverted=True,
    ),
    Option(
        "thinking",
        "MIMO2CODEX_DISABLE_THINKING",
        "--disable-thinking",
        parse_bool,
        "switch thinking off upstream, for providers that have a switch (MiMo; the Kimi, GLM and Qwen presets)",
        switch=False,
        env_inverted=True,
    ),
    Option(
        "web_search",
        "MIMO2CODEX_WEB_SEARCH",
        "--web-search",
        parse_bool,
        "forward Codex's web_search tool to MiMo's web search (needs the account's plugin; never with tp- keys)",
        switch=True,
    ),
    Option(
        "auto_compact",
        "MIMO2CODEX_AUTO_COMPACT",
        "--auto-compact",
        parse_bool,
        "when a request would overflow the model's context window, summarise its oldest turns with the "
        "same model first",
        switch=True,
    ),
    Option(
        "stored_response_days",
        "MIMO2CODEX_STORED_RESPONSE_DAYS",
        "--stored-response-days",
        parse_count,
        "days a stored response (store not false) stays available to previous_response_id and GET /v1/responses/{id} "
        "(0: until deleted)",
        metavar="DAYS",
    ),
    Option(
        "vision_model",
        "MIMO2CODEX_VISION_MODEL",
        "--vision-model",
        parse_vision_model,
        "vision model that reads images for text-only models, as PROVIDER/MODEL, or off (default: the "
        "routed provider's own vision model, e.g. mimo-v2.5 for MiMo; DeepSeek has none)",
        metavar="PROVIDER/MODEL",
    ),
    Option(
        "admin",
        "MIMO2CODEX_NO_ADMIN",
        "--no-admin",
        parse_bool,
        "disable the admin pages",
        switch=False,
        env_inverted=True,
    ),
    Option(
        "admin_token",
        "MIMO2CODEX_ADMIN_TOKEN",
        "--admin-token",
        parse_secret,
        "token the admin API requires (default: the inbound tokens); required to use the admin beyond loopback",
        metavar="TOKEN",
    ),
    Option(
        "verbose",
        "MIMO2CODEX_VERBOSE",
        "--verbose",
        parse_bool,
        "log translated bodies (secrets redacted)",
        short="-v",
        switch=True,
    ),
    Option(
        "auth_tokens",
        "MIMO2CODEX_AUTH_TOKENS",
        "--auth-token",
        parse_tokens,
        "inbound bearer tokens Codex must send, comma-separated (required to listen beyond loopback)",
        metavar="TOKENS",
    ),
    Option(
        "insecure_no_auth",
        "MIMO2CODEX_INSECURE_NO_AUTH",
        "--insecure-no-auth",
        parse_bool,
        "listen beyond loopback without inbound tokens (only on a network you fully trust)",
        switch=True,
    ),
    Option(
        "keepalive_interval",
        "MIMO2CODEX_KEEPALIVE",
        "--keepalive",
        parse_seconds,
        "seconds between SSE keepalive comments while the upstream is silent",
        metavar="SECONDS",
    ),
    Option(
        "connect_timeout",
        "MIMO2CODEX_CONNECT_TIMEOUT",
        "--connect-timeout",
        parse_seconds,
        "upstream connect timeout (s)",
        metavar="SECONDS",
    ),
    Option(
        "first_byte_timeout",
        "MIMO2CODEX_FIRST_BYTE_TIMEOUT",
        "--first-byte-timeout",
        parse_seconds,
        "upstream time to first byte (s); long prefills can take minutes",
        metavar="SECONDS",
    ),
    Option(
        "idle_timeout",
        "MIMO2CODEX_IDLE_TIMEOUT",
        "--idle-timeout",
        parse_seconds,
        "upstream silence between chunks before the stream is failed (s)",
        metavar="SECONDS",
    ),
    Option(
        "max_retries",
        "MIMO2CODEX_MAX_RETRIES",
        "--max-retries",
        parse_count,
        "upstream retries on connect errors, 429 and 5xx before any output (Codex retries too)",
        metavar="N",
    ),
    Option(
        "use_proxy",
        "MIMO2CODEX_NO_PROXY",
        "--no-proxy",
        parse_bool,
        "ignore HTTPS_PROXY / HTTP_PROXY / NO_PROXY for upstream requests (they are honoured by default)",
        switch=False,
        env_inverted=True,
    ),
    Option(
        "shutdown_grace",
        "MIMO2CODEX_SHUTDOWN_GRACE",
        "--shutdown-grace",
        parse_seconds,
        "on SIGINT/SIGTERM, seconds in-flight streams may finish before they end in response.failed",
        metavar="SECONDS",
    ),
    Option(
        "max_body_bytes",
        "MIMO2CODEX_MAX_BODY",
        "--max-body",
        parse_size,
        "largest accepted request body (e.g. 64M)",
        metavar="SIZE",
    ),
    Option(
        "workers",
        "MIMO2CODEX_WORKERS",
        "--workers",
        parse_workers,
        "worker processes sharing the port (one is plenty for a few Codex users; more for a busy team gateway)",
        metavar="N",
    ),
    Option(
        "database_url",
        "MIMO2CODEX_DATABASE_URL",
        "--database-url",
        parse_database_url,
        "request log and shared tables on PostgreSQL (postgresql://user:password@host/db); unset: SQLite "
        "at <data dir>/data.db",
        metavar="URL",
    ),
    Option(
        "request_log",
        "MIMO2CODEX_NO_REQUEST_LOG",
        "--no-request-log",
        parse_bool,
        "do not record requests in the database",
        switch=False,
        env_inverted=True,
    ),
    Option(
        "log_bodies",
        "MIMO2CODEX_LOG_BODIES",
        "--log-bodies",
        parse_body_mode,
        "request/response bodies kept in the request log: off, errors-only or full (redacted, capped)",
        metavar="MODE",
    ),
    Option(
        "log_body_max",
        "MIMO2CODEX_LOG_BODY_MAX",
        "--log-body-max",
        parse_size,
        "largest body kept per request-log row (e.g. 256K); longer ones are cut and marked",
        metavar="SIZE",
    ),
    Option(
        "log_retention_days",
        "MIMO2CODEX_LOG_RETENTION_DAYS",
        "--log-retention-days",
        parse_count,
        "days request-log rows are kept (0: forever); hourly totals stay",
        metavar="DAYS",
    ),
    Option(
        "log_max_mb",
        "MIMO2CODEX_LOG_MAX_MB",
        "--log-max-mb",
        parse_count,
        "size cap of the request log in MB, oldest rows deleted first (0: no cap)",
        metavar="MB",
    ),
)

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
    settings.router()  # fail at startup, not on the first request
    return settings


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
