"""``GET /metrics``: the gateway's Prometheus metrics (``prometheus-client``), one set per app.

What is counted, all from the request-log record of each finished request (:meth:`Metrics.observe`,
a record hook) except the in-flight streams, which an ASGI middleware counts while they run:

- ``mimo2codex_requests_total`` by endpoint, provider, upstream model, status and outcome;
- ``mimo2codex_request_duration_seconds`` and ``mimo2codex_ttft_seconds`` histograms;
- ``mimo2codex_tokens_total`` by kind (prompt, completion, cached, reasoning);
- ``mimo2codex_upstream_errors_total`` by provider and error code, ``mimo2codex_upstream_retries_total``;
- ``mimo2codex_streams_in_flight``;
- the request log itself: ``mimo2codex_log_queue_depth``, ``mimo2codex_log_rows_written_total``,
  ``mimo2codex_log_rows_dropped_total`` (a full queue or a failing database), and
  ``mimo2codex_log_writer_cpu_seconds_total`` by thread (``render``, ``database``): each one's rate
  is the share of a core that thread uses; the render thread's nears 1 before the queue starts to fill.

With ``--workers N`` each worker is its own process: :func:`prepare_multiprocess` (called by the CLI
before the workers spawn) points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory under the data dir,
every worker writes its values there, and whichever worker answers ``/metrics`` sums them all.
Labels are bounded: providers and upstream models come from the configuration, never from what a
client typed (a client model that routing rejects is not a label).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mimo2codex.request_log import RequestRecord
from mimo2codex.store.base import Store

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: seconds; a Codex turn runs from milliseconds (a probe) to many minutes (a long reasoning stream)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, float("inf"))
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, float("inf"))
_STREAM_PATHS = ("/responses", "/chat/completions")
#: seconds between two reads of the log's state from the record hook (a scrape reads it too): a
#: read costs ~8 µs, a third of the hook, and the rows a request adds are written a quarter of a
#: second after it anyway, so a read per request bought no fresher figures. With ``--workers``,
#: another worker's scrape shows this worker's figures as of its last read.
SYNC_SECONDS = 1.0


def prepare_multiprocess(data_dir: Path) -> Path:
    """Before ``--workers`` spawn: a fresh metrics directory under the data dir, removed at exit.

    Fresh per run so that a previous run's counters never reappear; the workers inherit the variable.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="metrics-", dir=data_dir))
    os.environ[MULTIPROC_ENV] = str(path)
    atexit.register(shutil.rmtree, path, True)
    return path


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The metrics of one app. Each app has its own registry (tests build many apps in one process)."""

    def __init__(self, store: Store | None = None) -> None:
        #: the app's request log (the lifespan sets it once the store exists)
        self.store = store
        self.multiprocess = multiprocess_dir() is not None
        registry = self.registry = CollectorRegistry(auto_describe=True)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(name: str, doc: str, mode: str) -> Gauge:
            # livesum: the workers' current values add up (a dead worker's file is ignored)
            return Gauge(name, doc, registry=registry, multiprocess_mode=mode)  # type: ignore[arg-type]

        self.requests = counter(
            "mimo2codex_requests",
            "Requests answered, by endpoint, provider, upstream model, HTTP status and outcome.",
            ("endpoint", "provider", "upstream_model", "status", "outcome"),
        )
        self.duration = Histogram(
            "mimo2codex_request_duration_seconds",
            "Time from a request's arrival to its last byte.",
            ("endpoint", "provider"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "mimo2codex_ttft_seconds",
            "Time from a request's arrival to its first output event (streams and non-streams).",
            ("endpoint", "provider"),
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = counter(
            "mimo2codex_tokens", "Tokens, by provider, upstream model and kind.", ("provider", "upstream_model", "kind")
        )
        self.errors = counter(
            "mimo2codex_upstream_errors", "Failed requests by provider and error code.", ("provider", "code")
        )
        self.retries = counter("mimo2codex_upstream_retries", "Upstream attempts beyond the first.", ("provider",))
        self.in_flight = gauge("mimo2codex_streams_in_flight", "Streamed responses being sent now.", "livesum")
        self.queue_depth = gauge("mimo2codex_log_queue_depth", "Request-log rows waiting for the writer.", "livesum")
        self.log_written = counter(
            "mimo2codex_log_rows_written",
            "Rows the log's writer wrote (requests, and responses stored by store: true).",
        )
        self.log_dropped = counter(
            "mimo2codex_log_rows_dropped", "Request-log rows dropped (a full queue or a failing database)."
        )
        self.log_cpu = counter(
            "mimo2codex_log_writer_cpu_seconds",
            "CPU seconds of the request log's writer: rendering rows, and the database (writes, maintenance).",
            ("thread",),
        )
        self._seen_written = 0
        self._seen_dropped = 0
        self._seen_cpu = {"render": 0.0, "database": 0.0}
        self._synced_at = -SYNC_SECONDS
        #: labelled children by (metric, labels): ``labels()`` validates and locks on every call
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- the record hook ---------------------------------------------------------------------
    def observe(self, record: RequestRecord) -> None:
        """One finished request (a record hook: runs on the event loop, costs a few µs)."""
        provider = record.provider or "none"
        endpoint = record.endpoint
        model = record.upstream_model or "none"
        self._child(self.requests, endpoint, provider, model, str(record.status), record.outcome).inc()
        self._child(self.duration, endpoint, provider).observe(record.duration_ms / 1000)
        if record.first_event_ms is not None:
            self._child(self.ttft, endpoint, provider).observe(record.first_event_ms / 1000)
        usage = record.usage if isinstance(record.usage, dict) else {}
        if usage:
            for kind, value in _token_kinds(usage):
                if value:
                    self._child(self.tokens, provider, model, kind).inc(value)
        if record.status >= 400 or record.error_code:
            self._child(self.errors, provider, record.error_code or f"http_{record.status}").inc()
        if record.upstream_attempts > 1:
            self._child(self.retries, provider).inc(record.upstream_attempts - 1)
        if time.monotonic() - self._synced_at >= SYNC_SECONDS:
            self.sync_store()

    def sync_store(self) -> None:
        """Bring the log gauges and counters up to the store's state (each process its own store)."""
        store = self.store
        if store is None:
            return
        self._synced_at = time.monotonic()
        state = store.state()
        self.queue_depth.set(state.queue_depth)
        if state.written > self._seen_written:
            self.log_written.inc(state.written - self._seen_written)
            self._seen_written = state.written
        if state.dropped > self._seen_dropped:
            self.log_dropped.inc(state.dropped - self._seen_dropped)
            self._seen_dropped = state.dropped
        for thread, seconds in (("render", state.render_seconds), ("database", state.database_seconds)):
            if seconds > self._seen_cpu[thread]:
                self._child(self.log_cpu, thread).inc(seconds - self._seen_cpu[thread])
                self._seen_cpu[thread] = seconds

    # -- exposition --------------------------------------------------------------------------
    def render(self) -> bytes:
        self.sync_store()
        if self.multiprocess:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)

    async def endpoint(self, request: Request) -> Response:
        return Response(self.render(), media_type=CONTENT_TYPE_LATEST)


def _token_kinds(usage: dict[str, Any]) -> list[tuple[str, int]]:
    inputs = usage.get("input_tokens_details") or {}
    outputs = usage.get("output_tokens_details") or {}
    kinds = [
        ("prompt", usage.get("input_tokens")),
        ("completion", usage.get("output_tokens")),
        ("cached", inputs.get("cached_tokens") if isinstance(inputs, dict) else None),
        ("reasoning", outputs.get("reasoning_tokens") if isinstance(outputs, dict) else None),
    ]
    return [(kind, int(value)) for kind, value in kinds if isinstance(value, int) and not isinstance(value, bool)]


class StreamsInFlight:
    """ASGI middleware: counts the event-stream responses being sent (started, not yet ended)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(_STREAM_PATHS):
            await self.app(scope, receive, send)
            return
        streaming = False
        gauge = self.metrics.in_flight

        async def watch(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", ()):
                    if name == b"content-type" and value.startswith(b"text/event-stream"):
                        streaming = True
                        gauge.inc()
            elif streaming and message["type"] == "http.response.body" and not message.get("more_body", False):
                streaming = False
                gauge.dec()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if streaming:  # the client went away, or the app failed mid-stream
                gauge.dec()
