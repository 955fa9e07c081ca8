"""The ``store`` fixture: every backend the store tests run against (SQLite here; PostgreSQL joins
as a second param when its server is available: see mimo2codex/store/postgres.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.store.base import Store
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.sqlite import SqliteStore

#: secrets the tests' policies know (an upstream key and an inbound token)
UPSTREAM_KEY = "sk-upstream-secret-0123456789abcdef"
INBOUND_TOKEN = "inbound-token-9876543210-zyxw"

MakeStore = Callable[..., Store]


def _sqlite(tmp_path: Path, **options: Any) -> Store:
    options.setdefault("policy", CapturePolicy.build("full", 256 << 10, [UPSTREAM_KEY, INBOUND_TOKEN]))
    return SqliteStore(tmp_path / "data.db", **options)


def _postgresql(url: str, **options: Any) -> Store:
    from mimo2codex.store.postgres import PostgresStore

    options.setdefault("policy", CapturePolicy.build("full", 256 << 10, [UPSTREAM_KEY, INBOUND_TOKEN]))
    return PostgresStore(url, **options)


#: name -> factory(where, **options); ``where`` is the test's tmp_path, or a fresh database's URL for
#: PostgreSQL (the session's throw-away cluster: tests/postgres_server.py)
BACKENDS: dict[str, Callable[..., Store]] = {"sqlite": _sqlite, "postgresql": _postgresql}


@pytest.fixture(params=sorted(BACKENDS))
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """``make_store(**options)``: an opened store of the parametrized backend, closed at the end."""
    opened: list[Store] = []
    where: Any = request.getfixturevalue("postgres_url") if request.param == "postgresql" else tmp_path

    def make(**options: Any) -> Store:
        store = BACKENDS[request.param](where, **options)
        store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()
