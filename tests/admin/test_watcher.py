"""The admin's watcher polls the store every few seconds: a corrupt database is reported once (and its
recovery once), never a traceback per poll (the store writer's rule, store/writer.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.events import EventHub
from mimo2codex.admin.runtime import LiveConfig
from mimo2codex.admin.watcher import watch
from mimo2codex.settings import load_settings
from mimo2codex.store.sqlite import SqliteStore
from tests.admin.conftest import MIMO_KEY

POLL = 0.01


def _valid_database(path: Path) -> bytes:
    store = SqliteStore(path)
    store.open()
    store.close()  # the last connection folds the WAL into the file
    return path.read_bytes()


async def _watch_through_a_repair(ctx: AdminContext, repair: Callable[[], int], seconds: float) -> int:
    """Run the watcher ``seconds``, call ``repair`` (its result returned), then run it ``seconds`` more."""
    task = asyncio.create_task(watch(ctx, file_poll=POLL, store_poll=POLL))
    await asyncio.sleep(seconds)
    mark = repair()
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return mark


def test_a_corrupt_database_is_reported_once_and_its_recovery_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = _valid_database(tmp_path / "good.db")
    path = tmp_path / "data" / "data.db"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database file, the disk ate it " * 200)
    env = {"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(path.parent)}
    store = SqliteStore(path)
    store.open()
    ctx = AdminContext(LiveConfig(load_settings(env), env), EventHub(), env, store=store)
    caplog.set_level(logging.WARNING, logger="mimo2codex.admin")

    def repair() -> int:
        with path.open("r+b") as handle:  # repaired in place (the store's connections stay open)
            handle.write(good)
            handle.truncate()
        return len(caplog.records)

    try:
        caplog.clear()
        mark = asyncio.run(_watch_through_a_repair(ctx, repair, 40 * POLL))  # tens of polls each side
        broken = [r for r in caplog.records[:mark] if r.name == "mimo2codex.admin"]
        assert len(broken) == 1, [r.getMessage() for r in broken]
        assert "not a database" in broken[0].getMessage()
        assert broken[0].exc_info is None  # a database problem, not a bug: no traceback
        recovered = [r.getMessage() for r in caplog.records[mark:] if r.name == "mimo2codex.admin"]
        assert len(recovered) == 1, recovered
        assert "recovered from DatabaseError: file is not a database" in recovered[0]
    finally:
        store.close()
