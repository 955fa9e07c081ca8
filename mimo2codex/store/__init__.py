"""The request log and the shared tables: pick a backend from the settings with :func:`open_store`.

SQLite at ``<data dir>/data.db`` by default (the Node tool's path), PostgreSQL when
``--database-url postgresql://…`` is set. See :mod:`mimo2codex.store.base` for the interface.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mimo2codex.store.base import LogPage, LogQuery, Store, StoredResponse, StoreState
from mimo2codex.store.capture import CapturePolicy

if TYPE_CHECKING:
    from mimo2codex.settings import Settings

__all__ = ["LogPage", "LogQuery", "Store", "StoreState", "StoredResponse", "capture_policy", "open_store"]

DB_FILE = "data.db"
POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def capture_policy(settings: Settings) -> CapturePolicy:
    """The body policy with every secret this process knows: upstream keys and inbound tokens."""
    secrets = [p.api_key.reveal() for p in settings.providers if p.api_key]
    secrets += [t.reveal() for t in settings.auth_tokens if t]
    return CapturePolicy.build(settings.log_bodies, settings.log_body_max, secrets)


def sqlite_path(settings: Settings) -> Path:
    url = settings.database_url.reveal() if settings.database_url else ""
    if url.startswith("sqlite:///"):
        # SQLAlchemy's form: sqlite:///relative/path, sqlite:////absolute/path
        return Path(url.removeprefix("sqlite:///")).expanduser()
    return settings.data_dir / DB_FILE


def open_store(settings: Settings, *, clock: Callable[[], float] = time.time, instance: str = "") -> Store:
    """A store for ``settings``, not yet opened (call :meth:`Store.open`; the app's lifespan does).

    Both backends take the same keyword arguments: ``policy``, ``instance``, ``log_enabled``,
    ``retention_days``, ``max_mb`` and ``clock``.
    """
    url = settings.database_url.reveal() if settings.database_url else ""
    policy = capture_policy(settings)
    if url.startswith(POSTGRES_SCHEMES):
        # The driver is imported only when PostgreSQL is used.
        backend = importlib.import_module("mimo2codex.store.postgres")
        store: Store = backend.PostgresStore(
            url,
            policy=policy,
            instance=instance,
            log_enabled=settings.request_log,
            retention_days=settings.log_retention_days,
            max_mb=settings.log_max_mb,
            clock=clock,
        )
        return store
    from mimo2codex.store.sqlite import SqliteStore

    return SqliteStore(
        sqlite_path(settings),
        policy=policy,
        instance=instance,
        log_enabled=settings.request_log,
        retention_days=settings.log_retention_days,
        max_mb=settings.log_max_mb,
        clock=clock,
    )
