"""``mimo2codex logs`` and ``mimo2codex db``, on every backend (the ``store`` fixture's params)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from mimo2codex import cli
from mimo2codex.request_log import RequestRecord
from mimo2codex.store.base import LogQuery, Store
from mimo2codex.store.commands import follow, format_row, parse_moment
from mimo2codex.store.sqlite import SqliteStore
from tests.store.conftest import UPSTREAM_KEY, MakeStore


def _record(n: int, *, started: float | None = None, **changes: Any) -> RequestRecord:
    rec = RequestRecord(f"req_{n}", "/v1/responses", started or time.time(), n % 2 == 0, client_model="gpt-5")
    rec.provider, rec.upstream_model = ("deepseek", "deepseek-chat") if n % 3 else ("mimo", "mimo-v2")
    rec.usage = {"input_tokens": 10 * n, "output_tokens": n}
    rec.duration_ms, rec.first_event_ms = 100.0 + n, 20.0
    for name, value in changes.items():
        setattr(rec, name, value)
    return rec


@pytest.fixture
def point_cli_at(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``mimo2codex`` read the database of ``store`` (SQLite file or PostgreSQL URL)."""

    def point(store: Store) -> None:
        if isinstance(store, SqliteStore):
            monkeypatch.setenv("MIMO2CODEX_DATA_DIR", str(store.path.parent))
        else:
            monkeypatch.setenv("MIMO2CODEX_DATABASE_URL", store.url)  # type: ignore[attr-defined]

    return point


def test_parse_moment() -> None:
    now = 1_800_000_000.0
    assert parse_moment("2h", now=now) == int((now - 7200) * 1000)
    assert parse_moment("90s", now=now) == int((now - 90) * 1000)
    assert parse_moment("7d", now=now) == int((now - 7 * 86400) * 1000)
    assert parse_moment("2026-01-31T12:00:00+08:00", now=now) == 1769832000000
    with pytest.raises(ValueError, match="an age like 2h"):
        parse_moment("yesterday", now=now)


def test_format_row_names_route_tokens_and_error() -> None:
    row = {
        "ts": 1769817600000,
        "status_code": 429,
        "stream": True,
        "endpoint": "/v1/responses",
        "provider_id": "deepseek",
        "upstream_model": "deepseek-chat",
        "client_model": "gpt-5",
        "rewritten_from": "o3",
        "duration_ms": 812,
        "ttft_ms": None,
        "prompt_tokens": 100,
        "completion_tokens": None,
        "cached_tokens": 64,
        "request_id": "req_1",
        "retries": 2,
        "error_code": "rate_limit_exceeded",
        "error_snippet": "slow\ndown",
    }
    assert format_row(row) == (
        "2026-01-31 00:00:00  429  stream  /v1/responses  deepseek/deepseek-chat (gpt-5) [rewritten from o3]  "
        "812ms  in=100 out=- cached=64  req_1  retries=2  rate_limit_exceeded: slow down"
    )


def test_logs_filters_and_json(make_store: MakeStore, point_cli_at: Any, capsys: pytest.CaptureFixture[str]) -> None:
    store = make_store()
    now = time.time()
    store.submit(_record(1, started=now - 3 * 3600))  # outside --since 2h
    for n in range(2, 8):
        store.submit(_record(n, started=now - 60 + n))
    store.submit(
        _record(8, started=now - 1, status=502, error_code="upstream_error", error_message=f"bad {UPSTREAM_KEY}")
    )
    assert store.flush(5)
    point_cli_at(store)

    assert cli.main(["logs", "--since", "2h", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["request_id"] for r in rows] == [f"req_{n}" for n in range(2, 9)]  # oldest first
    assert "request_body" not in rows[0]

    assert cli.main(["logs", "--errors"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "502" in out
    assert "upstream_error: bad [REDACTED]" in out
    assert UPSTREAM_KEY not in out

    # --model filters (it does not pick the default provider), --provider too
    assert cli.main(["logs", "--model", "mimo-v2", "--json", "-n", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["request_id"] for r in rows] == ["req_3", "req_6"]
    assert cli.main(["logs", "--provider", "deepseek", "--json"]) == 0
    assert {json.loads(line)["provider_id"] for line in capsys.readouterr().out.splitlines()} == {"deepseek"}

    assert cli.main(["logs", "--since", "soon"]) == 2
    assert "--since: expected an age" in capsys.readouterr().err


def test_follow_sees_another_writers_rows_once_in_order(make_store: MakeStore) -> None:
    writer = make_store()  # another worker or instance
    reader = make_store()
    writer.submit(_record(0))
    assert writer.flush(5)
    start = reader.logs(LogQuery(limit=1)).rows[0]["id"]
    seen: list[str] = []
    stop = threading.Event()
    query = LogQuery(provider="deepseek")
    tail = threading.Thread(
        target=follow,
        args=(reader, query, lambda row: seen.append(row["request_id"])),
        kwargs={"after_id": start, "stop": stop, "interval": 0.02},
    )
    tail.start()
    try:
        for n in range(1, 31):
            writer.submit(_record(n))
            if n % 10 == 0:
                assert writer.flush(5)
        expected = [f"req_{n}" for n in range(1, 31) if n % 3]
        deadline = time.monotonic() + 10
        while len(seen) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # a few more polls: nothing is printed twice
    finally:
        stop.set()
        tail.join(5)
    assert seen == expected


def test_db_stats_prune_and_vacuum(
    make_store: MakeStore, point_cli_at: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store()
    now = time.time()
    for n in range(5):
        store.submit(_record(n, started=now - 10 * 86400 + n))
    for n in range(5, 8):
        store.submit(_record(n, started=now - 10))
    assert store.flush(5)
    point_cli_at(store)

    assert cli.main(["db", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rows"] == 8
    assert stats["backend"] == store.backend
    assert stats["migrations"][0]["name"] == "0001_initial"

    assert cli.main(["db", "prune", "--before", "7d"]) == 0
    assert "deleted 5 requests" in capsys.readouterr().out
    assert [r["request_id"] for r in store.logs(LogQuery()).rows] == ["req_7", "req_6", "req_5"]
    # the hourly totals stay: stats over the old window still count the pruned requests
    assert store.stats(int((now - 11 * 86400) * 1000), int(now * 1000) + 1)["requests"] == 8

    assert cli.main(["db", "vacuum"]) == 0
    assert "vacuumed:" in capsys.readouterr().out
    assert cli.main(["db", "stats"]) == 0
    assert "rows        3" in capsys.readouterr().out
