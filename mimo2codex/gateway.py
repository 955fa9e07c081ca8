"""Gateway: the per-app state every endpoint shares (settings, router, transport, log hooks).

Built by :func:`mimo2codex.server.create_app`; the transport is opened and closed by the app's
lifespan. Endpoints reach it through ``request.app.state.gateway``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mimo2codex.compactor import SummaryCache
from mimo2codex.protocol.notes import Note
from mimo2codex.redaction import redact
from mimo2codex.request_log import RecordHook, RequestRecord
from mimo2codex.retry import RetryPolicy, open_with_retries
from mimo2codex.routing import Route, Router
from mimo2codex.settings import Settings
from mimo2codex.store.base import Store
from mimo2codex.upstream import Transport, UpstreamRequest, UpstreamResponse
from mimo2codex.vision.bridge import VisionBridge

log = logging.getLogger("mimo2codex")

_DUMP_LIMIT = 64 * 1024
_NOTE_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


@dataclass(slots=True)
class Gateway:
    settings: Settings
    router: Router
    transport: Transport
    hooks: list[RecordHook] = field(default_factory=list)
    #: the request log and shared tables (mimo2codex.store); ``emit`` only enqueues into it
    store: Store | None = None
    #: (code, subject) of warnings already logged: "warned once per process"
    _warned: set[tuple[str, str]] = field(default_factory=set)
    #: auto-compaction summaries by the messages they replace (compactor.py)
    summaries: SummaryCache = field(default_factory=SummaryCache)
    retry_policy: RetryPolicy = field(init=False)
    #: reads images for text-only models (mimo2codex.vision); ``vision.choice`` is the live setting
    vision: VisionBridge = field(init=False)
    _secrets: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.retry_policy = RetryPolicy(max_retries=self.settings.max_retries)
        self.vision = VisionBridge(self.settings)
        self._secrets = tuple(p.api_key.reveal() for p in self.settings.providers if p.api_key)

    def reconfigure(self, settings: Settings, router: Router) -> None:
        """Swap in live-edited settings and routes (admin/runtime.py): one step on the event loop, so a
        request sees either the old pair or the new one; requests in flight keep what they took."""
        self.settings, self.router = settings, router
        self.vision.follow(settings)
        self._secrets = tuple(p.api_key.reveal() for p in settings.providers if p.api_key)

    async def open_upstream(self, request: UpstreamRequest, record: RequestRecord) -> UpstreamResponse:
        """Open an upstream request with the configured retries, counting attempts in ``record``."""

        def count(attempt: int) -> None:
            record.upstream_attempts = attempt

        response = await open_with_retries(self.transport, request, self.retry_policy, on_attempt=count)
        record.upstream_status = response.status
        record.upstream_request_id = upstream_request_id(response.headers)
        return response

    def dump(self, request_id: str, label: str, payload: bytes) -> None:
        """``--verbose``: log a body, secrets redacted (keys can hide in any field a client sends)."""
        if self.settings.verbose:
            text = payload[:_DUMP_LIMIT].decode("utf-8", "replace")
            log.debug("[%s] %s: %s", request_id, label, redact(text, self._secrets))

    def report_notes(self, notes: Iterable[Note], request_id: str) -> None:
        for note in notes:
            if note.level == "warning":
                key = (note.code, note.subject)
                if key in self._warned:
                    continue
                self._warned.add(key)
            log.log(_NOTE_LEVELS[note.level], "[%s] %s", request_id, note.message)

    def report_route(self, route: Route) -> None:
        """Log a model rewrite once per (from, to) pair, with its reason: never a silent swap."""
        if route.rewritten:
            key = ("model_rewrite", f"{route.requested}\0{route.provider.id}/{route.upstream_model}")
            if key not in self._warned:
                self._warned.add(key)
                log.warning("model %r rewritten: %s", route.requested, route.reason)

    def emit(self, record: RequestRecord) -> None:
        record.duration_ms = (time.time() - record.started_at) * 1000
        for hook in self.hooks:
            try:
                hook(record)
            except Exception:  # a broken subscriber must never break the request path
                log.exception("request-log subscriber %r failed", hook)
        if self.store is not None:
            self.store.submit(record)  # a put_nowait: never blocks, never raises


#: where vendors put their own id of a request (the one their support asks for)
_UPSTREAM_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "x-ds-trace-id", "trace-id", "x-trace-id")


def upstream_request_id(headers: Mapping[str, str]) -> str | None:
    for name in _UPSTREAM_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value[:200]
    return None


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def route_headers(route: Route) -> dict[str, str]:
    """Response headers that make routing visible: a rewrite is never silent."""
    headers = {"x-mimo2codex-provider": route.provider.id, "x-mimo2codex-model": route.upstream_model}
    if route.rewritten:
        headers["x-mimo2codex-model-rewrite"] = f"{route.requested} -> {route.upstream_model}"
    return headers
