"""``GET /metrics``: Prometheus text from real requests, in one process and summed over ``--workers``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream
from tests.live import upstream_settings

pytestmark = pytest.mark.live


def scrape(base_url: str, token: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` as ``{(name, sorted labels): value}``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{base_url.removesuffix('/v1')}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (found, found_labels), value in samples.items()
        if found == name and all((k, v) in found_labels for k, v in labels.items())
    )


def test_requests_tokens_errors_and_latency_are_counted(
    start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path
) -> None:
    upstream = start_upstream(
        [
            Reply.text("hello there"),
            Reply.text("streamed answer", reasoning="thinking"),
            Reply.http_error(429, "slow down", type="rate_limit_error", headers={"Retry-After": "1"}),
        ]
    )
    settings = upstream_settings(upstream, MIMO2CODEX_DATA_DIR=str(tmp_path))
    gateway = start_gateway(settings)
    before = scrape(gateway.url)
    assert total(before, "mimo2codex_requests_total") == 0

    for stream in (False, True, False):
        httpx.post(
            f"{gateway.url}/responses", json={"model": "fake-model", "input": "hi", "stream": stream}, timeout=20
        )
    gateway.wait_for_records(3)

    samples = scrape(gateway.url)
    assert total(samples, "mimo2codex_requests_total", endpoint="/v1/responses") == 3
    assert total(samples, "mimo2codex_requests_total", status="200", outcome="completed") == 2
    assert total(samples, "mimo2codex_requests_total", status="429") == 1
    assert total(samples, "mimo2codex_upstream_errors_total", provider="generic") == 1
    assert total(samples, "mimo2codex_request_duration_seconds_count", endpoint="/v1/responses") == 3
    assert total(samples, "mimo2codex_ttft_seconds_count") >= 1
    prompt = sum(r.usage["input_tokens"] for r in gateway.records if r.usage)
    assert prompt > 0
    assert total(samples, "mimo2codex_tokens_total", kind="prompt") == prompt
    assert total(samples, "mimo2codex_streams_in_flight") == 0
    # the request log: every row written (3 requests, and the 2 completed responses stored for
    # previous_response_id), none dropped
    deadline = time.monotonic() + 5
    while total(samples, "mimo2codex_log_rows_written_total") < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
        samples = scrape(gateway.url)
    assert total(samples, "mimo2codex_log_rows_written_total") == 5
    assert total(samples, "mimo2codex_log_rows_dropped_total") == 0
    # the writer's CPU: rendering those rows and writing them both took some
    for thread in ("render", "database"):
        assert total(samples, "mimo2codex_log_writer_cpu_seconds_total", thread=thread) > 0, thread


def test_streams_in_flight_rise_and_fall(start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    upstream = start_upstream([Reply.text("word " * 40, chunk_chars=5, chunk_delay=0.05)])
    gateway = start_gateway(upstream_settings(upstream))
    done = threading.Event()

    def ask() -> None:
        body = {"model": "fake-model", "input": "hi", "stream": True}
        httpx.post(f"{gateway.url}/responses", json=body, timeout=20)
        done.set()

    thread = threading.Thread(target=ask)
    thread.start()
    seen = 0.0
    deadline = time.monotonic() + 5
    while not done.is_set() and time.monotonic() < deadline:
        seen = max(seen, total(scrape(gateway.url), "mimo2codex_streams_in_flight"))
        if seen:
            break
        time.sleep(0.02)
    thread.join(20)
    assert seen == 1
    assert total(scrape(gateway.url), "mimo2codex_streams_in_flight") == 0


def test_workers_metrics_are_summed_over_processes(tmp_path: Path) -> None:
    from tests.test_workers import TOKEN, workers_gateway

    with (
        StrictUpstream(lambda body, n: Reply.text(f"answer {n}")).running() as upstream,
        workers_gateway(upstream, tmp_path) as gateway,
    ):
        statuses: list[int] = []

        def ask(index: int) -> None:
            body = {"model": "fake-model", "input": f"q{index}", "stream": index % 2 == 0}
            headers = {"Authorization": f"Bearer {TOKEN}"}
            statuses.append(httpx.post(f"{gateway.url}/responses", json=body, headers=headers, timeout=20).status_code)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert statuses == [200] * 12
        # Whichever worker answers, it reports both workers' counts.
        for _ in range(3):
            samples = scrape(gateway.url, TOKEN)
            assert total(samples, "mimo2codex_requests_total", status="200") == 12
        metrics_dirs = list((tmp_path / "data").glob("metrics-*"))
        assert len(metrics_dirs) == 1
        assert any(metrics_dirs[0].iterdir())
        assert gateway.stop() == 0
    assert not list((tmp_path / "data").glob("metrics-*"))  # removed at exit
