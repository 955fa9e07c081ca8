"""The option table: every flag of the command line, its environment variable, parser and help.

The CLI builds its parser from :data:`OPTIONS`, :func:`mimo2codex.settings.load_settings` reads the
environment through it, and the README's settings table is generated from it, so flag, env var and
doc cannot disagree. The parsers raise ``ValueError`` with a message that completes "MIMO2CODEX_X
...": the caller names the variable or flag.

>>> parse_size("64M")
67108864
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimo2codex.providers.config_file import PROVIDERS_FILE_ENV
from mimo2codex.secret import Secret
from mimo2codex.store.capture import parse_body_mode
from mimo2codex.vision.backend import parse_vision_model

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
