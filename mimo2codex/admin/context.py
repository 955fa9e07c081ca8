"""What every admin API handler shares: the running gateway, the store, the live configuration.

Built by :class:`mimo2codex.admin.console.AdminConsole` before the app starts; the gateway and the store
are attached by the lifespan (:meth:`AdminContext.attach`). Store methods block: handlers call them
through :meth:`AdminContext.call`, on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from starlette.concurrency import run_in_threadpool

from mimo2codex.admin.events import EventHub
from mimo2codex.admin.runtime import LiveConfig, build_router
from mimo2codex.errors import GatewayError, Mimo2CodexError
from mimo2codex.gateway import Gateway
from mimo2codex.settings import Settings
from mimo2codex.store.base import Store
from mimo2codex.store.capture import CapturePolicy

log = logging.getLogger("mimo2codex.admin")
T = TypeVar("T")


class Unavailable(GatewayError):
    status = 503
    error_type = "server_error"
    default_code = "unavailable"


class StoreUnavailable(Unavailable):
    default_code = "store_unavailable"


@runtime_checkable
class TunableStore(Protocol):
    """The running store's policy, which both backends expose as attributes the writer reads."""

    policy: CapturePolicy
    retention_days: int
    max_mb: int


def tunable(store: object) -> TunableStore | None:
    """``store`` when its policy can be changed while it runs (both backends), else None."""
    return store if isinstance(store, TunableStore) else None


@dataclass(slots=True)
class ReloadState:
    """The outcome of the last configuration change, shown by the admin (never silent)."""

    ok: bool = True
    at_ms: int = 0
    #: "admin" | "file" | "toggle" | "store"
    cause: str = "startup"
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "at": self.at_ms, "cause": self.cause, "error": self.error, "warnings": self.warnings}


@dataclass(slots=True)
class AdminContext:
    live: LiveConfig
    events: EventHub
    env: Mapping[str, str]
    clock: Callable[[], float] = time.time
    gateway_: Gateway | None = None
    store: Store | None = None
    reload: ReloadState = field(default_factory=ReloadState)
    #: one configuration change at a time (a file edit, a toggle, a catalog change)
    edit_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: the store's custom models and aliases as routing last saw them
    catalog: tuple[list[dict[str, Any]], list[dict[str, Any]]] = field(default_factory=lambda: ([], []))
    #: (mtime_ns, size) of providers.json as last loaded; None when there was no file
    file_stamp: tuple[int, int] | None = None
    #: stored toggles left out because they do not load (name -> the stored value), warned about once
    ignored: dict[str, Any] = field(default_factory=dict)

    def attach(self, gateway: Gateway, store: Store | None) -> None:
        self.gateway_ = gateway
        self.store = store
        gateway.hooks.append(self.events.publish)

    @property
    def gateway(self) -> Gateway:
        if self.gateway_ is None:
            raise StoreUnavailable("the gateway is starting", code="starting")
        return self.gateway_

    @property
    def settings(self) -> Settings:
        return self.gateway.settings

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def need_store(self) -> Store:
        if self.store is None:
            raise StoreUnavailable("the request log is not enabled on this gateway, so this route has no data")
        return self.store

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking store (or file) call on a worker thread.

        A database that is locked, gone or corrupt answers 503 with what went wrong (and a log line),
        never a 500: the gateway itself keeps serving (the store degrades, it never fails a request).
        """
        try:
            return await run_in_threadpool(function, *args)
        except Mimo2CodexError:
            raise
        except Exception as exc:
            if not database_error(exc):
                raise
            log.warning("admin: %s failed: %s", getattr(function, "__name__", "a call"), exc)
            raise StoreUnavailable(f"the request log cannot be read right now: {exc}") from exc

    def apply(self, settings: Settings, cause: str) -> None:
        """Swap ``settings`` (and its router, with the store's catalog) into the running gateway."""
        models, aliases = self.catalog
        router = build_router(settings, models, aliases)
        self.live.current = settings
        self.gateway.reconfigure(settings, router)
        if cause in ("admin", "file"):
            self.ignored.clear()  # other providers: an ignored stored toggle may load now (the watcher retries)
        store = tunable(self.store)
        if store is not None:
            # a provider added live brings a key the log must scrub too
            known = [p.api_key.reveal() for p in settings.providers if p.api_key]
            known += [t.reveal() for t in settings.auth_tokens if t]
            policy = store.policy
            store.policy = CapturePolicy.build(policy.mode, policy.max_bytes, [*policy.secrets, *known])
        self.reload = ReloadState(True, self.now_ms(), cause, None, list(settings.warnings))
        log.info(
            "configuration reloaded (%s): %d providers, default %s", cause, len(router.providers), router.default.id
        )

    def watcher_seen(self, path: Path) -> None:
        """Record ``path``'s stamp as loaded, so the file watcher does not reload our own write."""
        self.file_stamp = file_stamp(path)

    def refused(self, cause: str, message: str) -> None:
        self.reload = ReloadState(False, self.now_ms(), cause, message, [])


def file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def database_error(exc: BaseException) -> bool:
    """A failure of the database or the disk, not a bug: SQLite's, the OS's, or psycopg's (by its base
    class, so the admin does not import the PostgreSQL driver)."""
    if isinstance(exc, sqlite3.Error | OSError):
        return True
    return any(cls.__module__.split(".")[0] == "psycopg" and cls.__name__ == "Error" for cls in type(exc).__mro__)
