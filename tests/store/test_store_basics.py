"""The store contract on every backend: submit, list, detail, stats, shared tables."""

from __future__ import annotations

import time

import pytest

from mimo2codex.errors import InvalidRequest
from mimo2codex.request_log import RequestRecord
from mimo2codex.store.base import LogQuery, Store, StoredResponse
from mimo2codex.store.rollup import HOUR_MS


def record(n: int, *, started: float | None = None, **changes: object) -> RequestRecord:
    rec = RequestRecord(f"req_{n}", "/v1/responses", started or time.time(), True, client_model="gpt-5")
    rec.provider, rec.upstream_model = "deepseek", "deepseek-chat"
    rec.usage = {
        "input_tokens": 100,
        "output_tokens": 20,
        "total_tokens": 120,
        "input_tokens_details": {"cached_tokens": 64},
        "output_tokens_details": {"reasoning_tokens": 7},
    }
    rec.duration_ms = 250.0
    rec.first_event_ms = 80.0
    for name, value in changes.items():
        setattr(rec, name, value)
    return rec


def test_submit_then_list_detail_and_stats(store: Store) -> None:
    now = time.time()
    store.submit(record(1, started=now - 10))
    store.submit(record(2, started=now - 5, status=429, outcome="error", error_code="rate_limit_exceeded"))
    assert store.flush(5)
    page = store.logs(LogQuery(limit=10))
    assert [r["request_id"] for r in page.rows] == ["req_2", "req_1"]
    assert page.next_before_id is None
    first = page.rows[1]
    assert (first["prompt_tokens"], first["completion_tokens"], first["cached_tokens"], first["reasoning_tokens"]) == (
        100,
        20,
        64,
        7,
    )
    assert first["stream"] is True
    assert first["ttft_ms"] == 80
    assert "request_body" not in first
    detail = store.log(first["id"])
    assert detail is not None
    assert detail["request_id"] == "req_1"
    assert "request_body" in detail
    assert store.log(10_000) is None

    errors = store.logs(LogQuery(status_class="error"))
    assert [r["request_id"] for r in errors.rows] == ["req_2"]

    stats = store.stats(int((now - HOUR_MS / 1000 * 3) * 1000), int(now * 1000) + 1)
    assert stats["requests"] == 2
    assert stats["errors"] == 1
    assert stats["errors_by_code"] == {"rate_limit_exceeded": 1}
    assert stats["cached_tokens"] == 128
    assert stats["reasoning_tokens"] == 14
    assert stats["by_provider"][0]["provider_id"] == "deepseek"
    state = store.state()
    assert state.status == "ok"
    assert state.written == 2
    assert state.dropped == 0


def test_keyset_paging_and_tail(store: Store) -> None:
    for n in range(7):
        store.submit(record(n))
    assert store.flush(5)
    seen: list[str] = []
    before = None
    while True:
        page = store.logs(LogQuery(limit=3, before_id=before))
        seen += [r["request_id"] for r in page.rows]
        if page.next_before_id is None:
            break
        before = page.next_before_id
    assert seen == [f"req_{n}" for n in reversed(range(7))]
    tail = store.tail(LogQuery(after_id=0, limit=4))
    assert [r["request_id"] for r in tail] == [f"req_{n}" for n in range(4)]


def test_models_aliases_settings_and_stored_responses(store: Store) -> None:
    model = store.put_model(
        {"id": "my-coder", "provider_id": "deepseek", "upstream_model": "deepseek-chat", "ctx": 64000}
    )
    assert model["ctx"] == 64000
    assert [m["id"] for m in store.models()] == ["my-coder"]
    assert store.delete_model("my-coder")
    assert not store.delete_model("my-coder")

    store.put_alias("gpt-5", "deepseek", "deepseek-reasoner")
    assert store.aliases()[0]["upstream_model"] == "deepseek-reasoner"
    assert store.delete_alias("gpt-5")
    assert store.aliases() == []

    store.put_setting("log_retention_days", 7)
    assert store.settings() == {"log_retention_days": 7}
    with pytest.raises(InvalidRequest):
        store.put_setting("upstream_api_key", "x")
    with pytest.raises(InvalidRequest):
        store.put_setting("ui_theme", "sk-abcdefghijklmnopqrstu")
    with pytest.raises(InvalidRequest):
        store.put_setting("log_retention_days", -1)
    assert store.delete_setting("log_retention_days")

    now_ms = int(time.time() * 1000)
    kept = StoredResponse(
        "resp_1", {"id": "resp_1", "output": []}, [{"role": "user", "content": "hi"}], expires_ms=now_ms + 60_000
    )
    store.put_response(kept)
    found = store.get_response("resp_1")
    assert found is not None
    assert found.input_items == kept.input_items
    store.put_response(StoredResponse("resp_old", {}, [], expires_ms=now_ms - 1))
    assert store.get_response("resp_old") is None
    assert store.delete_response("resp_1")
    assert store.get_response("resp_1") is None


def test_a_response_deleted_while_queued_never_comes_back(store: Store) -> None:
    """The put is still in the writer's queue (or its open transaction) when the delete arrives: the
    delete goes in line behind it, and the id stays hidden until the writer has applied it."""
    for number in range(20):
        response_id = f"resp_race_{number}"
        store.put_response(StoredResponse(response_id, {"id": response_id}, []))
        assert store.delete_response(response_id)
        assert store.get_response(response_id) is None
    assert store.flush(10)
    assert all(store.get_response(f"resp_race_{n}") is None for n in range(20))
    assert not store.delete_response("resp_race_0")  # gone from the database too


def test_db_stats_lists_migrations(store: Store) -> None:
    stats = store.db_stats()
    assert [m["name"] for m in stats["migrations"]][:1] == ["0001_initial"]
    assert stats["rows"] == 0


def test_stats_windows_are_exact_and_read_rollups(store: Store) -> None:
    import math
    import random

    rng = random.Random(3)
    now_ms = int(time.time() * 1000)
    base = now_ms - now_ms % HOUR_MS - 6 * HOUR_MS
    rows: list[tuple[int, float, int, bool]] = []
    for n in range(600):
        ts = base + rng.randrange(0, 6 * HOUR_MS)
        duration = rng.lognormvariate(6, 1)
        error = rng.random() < 0.1
        tokens = rng.randrange(1, 500)
        rows.append((ts, duration, tokens, error))
        changes: dict[str, object] = {"duration_ms": duration, "usage": {"input_tokens": tokens, "output_tokens": 1}}
        if error:
            changes.update(status=502, outcome="error", error_code="upstream_unavailable")
        store.submit(record(n, started=ts / 1000, **changes))
    assert store.flush(10)
    for _ in range(25):
        since = base + rng.randrange(0, 6 * HOUR_MS)
        until = since + rng.randrange(1, 6 * HOUR_MS)
        inside = [r for r in rows if since <= r[0] < until]
        stats = store.stats(since, until)
        assert stats["requests"] == len(inside)
        assert stats["errors"] == sum(r[3] for r in inside)
        assert stats["prompt_tokens"] == sum(r[2] for r in inside)
        if len(inside) >= 20:
            ordered = sorted(round(r[1]) for r in inside)
            for q, name in ((0.5, "p50"), (0.95, "p95")):
                exact = ordered[max(1, math.ceil(q * len(ordered))) - 1]
                assert abs(stats["latency_ms"][name] - exact) <= 0.1 * exact + 1
        series = store.timeseries(since, until, "hour")
        assert sum(point["requests"] for point in series) == len(inside)
    day = store.timeseries(base, base + 6 * HOUR_MS, "day")
    assert sum(point["requests"] for point in day) == 600
