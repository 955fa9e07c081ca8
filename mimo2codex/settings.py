"""The one settings model: defaults < files < environment < command-line flags.

Every tunable is an :class:`Option` in :data:`OPTIONS`: its field on :class:`Settings`, its
environment variable, its flag, its parser and its help text. The CLI builds its parser from this
table and the README's settings table is checked against it, so flag, env var and doc cannot drift.

>>> settings = load_settings({"GENERIC_BASE_URL": "http://127.0.0.1:9000/v1", "MIMO2CODEX_PORT": "9999"})
>>> settings.port
9999
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mimo2codex.errors import ConfigError
from mimo2codex.providers import load_providers
from mimo2codex.providers.base import Provider
from mimo2codex.routing import Router

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected one of 1/0, true/false, yes/no, on/off, got {value!r}")


def parse_port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"a port is 0-65535, got {port}")
    return port


def parse_count(value: str) -> int:
    count = int(value)
    if count < 0:
        raise ValueError(f"must be 0 or more, got {value!r}")
    return count


def parse_seconds(value: str) -> float:
    seconds = float(value)
    if seconds <= 0:
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
    size = int(float(text) * scale)
    if size <= 0:
        raise ValueError(f"must be a positive size, got {value!r}")
    return size


@dataclass(frozen=True, slots=True)
class Option:
    field: str
    env: str | None
    flag: str | None
    parse: Callable[[str], Any]
    help: str
    #: short flag, e.g. "-p"
    short: str | None = None


OPTIONS: tuple[Option, ...] = (
    Option("host", "MIMO2CODEX_HOST", "--host", str, "address to listen on"),
    Option("port", "MIMO2CODEX_PORT", "--port", parse_port, "port to listen on", short="-p"),
    Option("data_dir", "MIMO2CODEX_DATA_DIR", "--data-dir", lambda v: Path(v).expanduser(), "data directory"),
    Option(
        "verbose",
        "MIMO2CODEX_VERBOSE",
        "--verbose",
        parse_bool,
        "log translated bodies (secrets redacted)",
        short="-v",
    ),
    Option(
        "keepalive_interval",
        "MIMO2CODEX_KEEPALIVE",
        "--keepalive",
        parse_seconds,
        "seconds between SSE keepalive comments while the upstream is silent",
    ),
    Option(
        "connect_timeout",
        "MIMO2CODEX_CONNECT_TIMEOUT",
        "--connect-timeout",
        parse_seconds,
        "upstream connect timeout (s)",
    ),
    Option(
        "first_byte_timeout",
        "MIMO2CODEX_FIRST_BYTE_TIMEOUT",
        "--first-byte-timeout",
        parse_seconds,
        "upstream time to first byte (s); long prefills can take minutes",
    ),
    Option(
        "idle_timeout",
        "MIMO2CODEX_IDLE_TIMEOUT",
        "--idle-timeout",
        parse_seconds,
        "upstream silence between chunks before the stream is failed (s)",
    ),
    Option(
        "max_retries",
        "MIMO2CODEX_MAX_RETRIES",
        "--max-retries",
        parse_count,
        "upstream retries on connect errors, 429 and 5xx before any output (Codex retries too)",
    ),
    Option(
        "max_body_bytes",
        "MIMO2CODEX_MAX_BODY",
        "--max-body",
        parse_size,
        "largest accepted request body (e.g. 64M)",
    ),
)


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
    expose_reasoning: bool = True
    providers: tuple[Provider, ...] = ()
    default_provider: str = ""

    def router(self) -> Router:
        by_id = {p.id: p for p in self.providers}
        default = by_id.get(self.default_provider) or (self.providers[0] if self.providers else None)
        if default is None:
            raise ConfigError(
                "no upstream provider configured: set GENERIC_BASE_URL (and GENERIC_API_KEY, GENERIC_DEFAULT_MODEL)"
            )
        return Router(self.providers, default)

    @property
    def listen_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


_FIELD_NAMES = {f.name for f in fields(Settings)}


def load_settings(env: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None) -> Settings:
    """Settings from ``env`` (default: the process environment) and already-parsed CLI ``flags``.

    Raises :class:`ConfigError` naming the variable or flag and the bad value.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = env.get(option.env) if option.env else None
        if raw is not None and raw != "":
            try:
                values[option.field] = option.parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{option.env}={raw!r}: {exc}") from None
    for name, value in (flags or {}).items():
        if value is not None:
            if name not in _FIELD_NAMES:
                raise ConfigError(f"unknown setting {name!r}")
            values[name] = value
    providers = load_providers(env)
    values.setdefault("providers", providers)
    if providers:
        values.setdefault("default_provider", providers[0].id)
    settings = Settings(**values)
    settings.router()  # fail at startup, not on the first request
    return settings
