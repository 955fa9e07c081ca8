"""PostgreSQL as the shared log of several gateway instances (issue 8, acceptance 5), and its failures.

Runs against the session's throw-away cluster (tests/postgres_server.py): a real server, never a skip.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import psycopg
import pytest

from mimo2codex.request_log import RequestRecord
from mimo2codex.store import histogram
from mimo2codex.store.base import LogQuery
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.postgres import PostgresStore, mask_url
from mimo2codex.store.rollup import HOUR_MS
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply
from tests.live import upstream_settings

COUNTERS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")


def _record(instance: str, n: int, started: float) -> RequestRecord:
    rec = RequestRecord(f"{instance}-{n}", "/v1/responses", started, n % 2 == 0, client_model=f"gpt-{n % 3}")
    rec.provider, rec.upstream_model = ("deepseek", "deepseek-chat") if n % 4 else ("mimo", "mimo-v2")
    rec.status = 429 if n % 7 == 0 else 200
    rec.error_code = "rate_limit_exceeded" if n % 7 == 0 else None
    rec.usage = {
        "input_tokens": 100 + n,
        "output_tokens": n,
        "input_tokens_details": {"cached_tokens": n % 50},
        "output_tokens_details": {"reasoning_tokens": n % 5},
    }
    rec.duration_ms = 10.0 + n
    rec.first_event_ms = 5.0 + n % 13
    return rec


def _raw_totals(url: str, since_ms: int, until_ms: int) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status_code >= 400 OR error_code IS NOT NULL), "
            + ", ".join(f"sum({c})" for c in COUNTERS)
            + " FROM chat_logs WHERE ts >= %s AND ts < %s",
            (since_ms, until_ms),
        ).fetchone()
    assert row is not None
    return dict(zip(("requests", "errors", *COUNTERS), (int(v or 0) for v in row), strict=True))


def test_two_instances_share_rows_and_exact_rollups(postgres_url: str) -> None:
    policy = CapturePolicy.build("errors-only", 4096, [])
    stores = [
        PostgresStore(
            postgres_url, policy=policy, instance=name, batch_size=25
        )  # small batches: many interleaved upserts
        for name in ("gw-a", "gw-b")
    ]
    for store in stores:
        store.open()
    now = time.time()
    # Rows over the last three hours, so windows have whole hours (rollups) and edges (raw rows).
    per_instance = 400

    def produce(store: PostgresStore) -> None:
        for n in range(per_instance):
            store.submit(_record(store.instance, n, now - (n * 27) % (3 * 3600)))

    threads = [threading.Thread(target=produce, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert all(store.flush(20) for store in stores)
        assert [store.state().written for store in stores] == [per_instance, per_instance]
        assert all(store.state().dropped == 0 for store in stores)

        reader = stores[0]
        instances = {row["instance"] for row in reader.tail(LogQuery(after_id=0, limit=1000))}
        assert instances == {"gw-a", "gw-b"}

        until_ms = int(now * 1000) + 1
        for since_ms in (until_ms - 4 * HOUR_MS, until_ms - HOUR_MS - 12_345, int(now * 1000) - 600_000):
            stats = reader.stats(since_ms, until_ms)
            expected = _raw_totals(postgres_url, since_ms, until_ms)
            assert {k: stats[k] for k in expected} == expected
            assert sum(stats["errors_by_code"].values()) == expected["errors"]
            assert sum(p["requests"] for p in stats["by_provider"]) == expected["requests"]
        whole = reader.stats(until_ms - 4 * HOUR_MS, until_ms)
        assert whole["requests"] == 2 * per_instance
        # the histograms too: whole hours from the rollups and the edges from raw rows add up to
        # the percentiles of every request's own latency
        latency: dict[int, int] = {}
        ttft: dict[int, int] = {}
        for n in range(per_instance):
            record = _record("x", n, now)
            for _ in stores:
                histogram.add(latency, round(record.duration_ms))
                histogram.add(ttft, round(record.first_event_ms or 0))
        assert {k: whole["latency_ms"][k] for k in ("p50", "p95", "p99")} == histogram.percentiles(latency)
        assert {k: whole["ttft_ms"][k] for k in ("p50", "p95", "p99")} == histogram.percentiles(ttft)
        series = reader.timeseries(until_ms - 4 * HOUR_MS, until_ms, "hour")
        assert sum(bucket["requests"] for bucket in series) == 2 * per_instance
    finally:
        for store in stores:
            store.close()


@pytest.mark.live
def test_two_live_gateways_log_into_one_database(
    postgres_url: str, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream(lambda body, n: Reply.text(f"answer {n}"))
    settings = upstream_settings(upstream, MIMO2CODEX_DATABASE_URL=postgres_url)
    gateways = [start_gateway(settings), start_gateway(settings)]
    per_gateway = 6
    statuses: list[int] = []

    def ask(url: str, index: int) -> None:
        body = {"model": "fake-model", "input": f"q{index}", "stream": index % 2 == 0}
        statuses.append(httpx.post(f"{url}/responses", json=body, timeout=20).status_code)

    threads = [threading.Thread(target=ask, args=(gateway.url, i)) for gateway in gateways for i in range(per_gateway)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * (2 * per_gateway)

    served = [{record.request_id for record in gateway.records} for gateway in gateways]
    assert [len(ids) for ids in served] == [per_gateway, per_gateway]
    reader = PostgresStore(postgres_url)
    try:
        deadline = time.time() + 10
        rows: list[dict[str, Any]] = []
        while time.time() < deadline:  # each gateway's writer commits on its own schedule
            rows = list(reader.tail(LogQuery(after_id=0, limit=100)))
            if len(rows) >= 2 * per_gateway:
                break
            time.sleep(0.05)
        stored = {row["request_id"] for row in rows}
        assert served[0] <= stored
        assert served[1] <= stored
        assert len(rows) == 2 * per_gateway
        stats = reader.stats(int((time.time() - 60) * 1000), int(time.time() * 1000) + 1)
        assert stats["requests"] == 2 * per_gateway
        assert stats["errors"] == 0
        assert stats["by_provider"][0]["provider_id"] == "generic"
    finally:
        reader.close()


def test_unreachable_database_degrades_and_counts(postgres_server: Any) -> None:
    # A port nothing listens on: connecting fails at once. The request path must not notice.
    url = f"postgresql://postgres:pw@127.0.0.1:{_closed_port()}/nowhere"
    store = PostgresStore(url)
    store.open()
    try:
        started = time.perf_counter()
        for n in range(20):
            store.submit(_record("x", n, time.time()))
        assert time.perf_counter() - started < 0.1  # enqueue only
        assert store.flush(10)
        state = store.state()
        assert state.status == "degraded"
        assert state.dropped == 20
        assert state.written == 0
        assert state.problem
        assert "pw" not in state.location
        assert state.location.startswith("postgresql://postgres:***@")
    finally:
        store.close()


def _closed_port() -> int:
    from tests.postgres_server import free_port

    return free_port()


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql:///db?host=/tmp&password=secret") == "postgresql:///db?host=/tmp&password=***"
    assert mask_url("postgresql://u@h:5/db") == "postgresql://u@h:5/db"


def test_out_of_range_values_are_clamped_not_dropped(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.open()
    try:
        rec = _record("x", 1, time.time())
        rec.usage = {"input_tokens": 2**40, "output_tokens": -(2**40), "total_tokens": 5}
        store.submit(rec)
        assert store.flush(10)
        assert store.state().written == 1
        (row,) = store.tail(LogQuery(after_id=0))
        assert row["prompt_tokens"] == 2**31 - 1
        assert row["completion_tokens"] == -(2**31 - 1)
        assert row["total_tokens"] == 5
    finally:
        store.close()


def _writer_backends(url: str) -> None:
    """End the store's writer connection (as a restarted server or a network cut would)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mimo2codex-writer'"
        )


def test_a_writer_connection_lost_while_idle_loses_no_batch(postgres_url: str) -> None:
    # The server restarting or terminating the idle writer connection is found at the next BEGIN,
    # before anything of the batch was sent: one fresh connection writes it.
    store = PostgresStore(postgres_url, batch_size=10)
    store.open()
    try:
        store.submit(_record("before", 0, time.time()))
        assert store.flush(10)
        for n in range(1, 4):
            _writer_backends(postgres_url)
            store.submit(_record("after", n, time.time()))
            assert store.flush(10)
        state = store.state()
        assert (state.written, state.dropped, state.problem) == (4, 0, None)
        ids = {row["request_id"] for row in store.tail(LogQuery(after_id=0, limit=100))}
        assert ids == {"before-0", "after-1", "after-2", "after-3"}
    finally:
        store.close()


def test_read_only_and_locked_database_drop_count_and_recover(postgres_url: str) -> None:
    # Acceptance 3 on PostgreSQL: submitting never waits, failed batches are dropped and counted, the
    # state says why, and the first batch that succeeds again clears it.
    database = postgres_url.rsplit("/", 1)[1]
    store = PostgresStore(postgres_url, batch_size=10)
    store.open()
    admin = psycopg.connect(postgres_url, autocommit=True)
    try:
        store.submit(_record("ok", 0, time.time()))
        assert store.flush(10)
        assert store.state().written == 1

        admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        _writer_backends(postgres_url)  # the next batch reconnects: read-only now
        started = time.perf_counter()
        for n in range(1, 6):
            store.submit(_record("ro", n, time.time()))
        assert time.perf_counter() - started < 0.1
        assert store.flush(10)
        state = store.state()
        assert state.status == "degraded"
        assert state.dropped >= 5
        assert state.problem

        admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
        _writer_backends(postgres_url)
        dropped = store.state().dropped
        with admin.transaction():
            admin.execute("LOCK TABLE chat_logs IN ACCESS EXCLUSIVE MODE")  # held until the block ends
            started = time.perf_counter()
            store.submit(_record("locked", 1, time.time()))
            assert time.perf_counter() - started < 0.1
            assert store.flush(15)  # the lock timeout fails the batch in seconds
            assert store.state().dropped == dropped + 1
            assert "lock" in (store.state().problem or "")

        store.submit(_record("after", 1, time.time()))
        assert store.flush(10)
        state = store.state()
        assert state.status == "ok"
        assert state.problem is None
        ids = {row["request_id"] for row in store.tail(LogQuery(after_id=0, limit=100))}
        assert ids == {"ok-0", "after-1"}
    finally:
        admin.close()
        store.close()


def test_keys_never_reach_the_database(postgres_server: Any, postgres_url: str) -> None:
    # Acceptance 4 on PostgreSQL: whatever the capture mode, a dump of the whole database holds
    # neither the upstream key nor the inbound token, though requests carried both everywhere.
    key, token = "sk-upstream-secret-0123456789abcdef", "inbound-token-9876543210-zyxw"
    for mode in ("off", "errors-only", "full"):
        store = PostgresStore(postgres_url, policy=CapturePolicy.build(mode, 4096, [key, token]), instance=mode)
        store.open()
        try:
            for n, status in enumerate((200, 401)):
                rec = _record(mode, n, time.time())
                rec.status = status
                rec.error_code = "invalid_api_key" if status == 401 else None
                rec.error_message = f"Incorrect API key provided: {key} (token {token})" if status == 401 else None
                rec.request_body = f'{{"input": "my key is {key}", "auth": "Bearer {token}"}}'.encode()
                rec.response_body = {"error": {"message": f"bad key {key}"}}
                rec.user_agent = f"codex_cli_rs/0.169.0 {token}"
                store.submit(rec)
            assert store.flush(10)
            assert store.state().written == 2
        finally:
            store.close()
    dump = postgres_server.dump(postgres_url.rsplit("/", 1)[1])
    assert "full-1" in dump  # the rows are there
    assert "[REDACTED]" in dump
    assert key not in dump
    assert token not in dump
