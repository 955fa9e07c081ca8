"""The ASGI app factory: routes, the lifespan that owns the upstream transport, the error boundary.

>>> from mimo2codex.settings import load_settings
>>> app = create_app(load_settings({"GENERIC_BASE_URL": "http://127.0.0.1:9/v1"}))

Nothing happens at import time; resources live exactly as long as the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mimo2codex import __version__, stored_responses
from mimo2codex.admin.console import AdminConsole
from mimo2codex.admin.console import guard as admin_guard
from mimo2codex.auth import BearerAuthMiddleware
from mimo2codex.catalog import CATALOG_PATH, codex_models
from mimo2codex.chat_api import chat_completions
from mimo2codex.errors import GatewayError, MethodNotAllowed, NotFound, PayloadTooLarge, UpstreamError
from mimo2codex.gateway import Gateway
from mimo2codex.heap import heap_trimmer
from mimo2codex.http_body import RefusalResponse, json_response
from mimo2codex.metrics import Metrics, StreamsInFlight
from mimo2codex.request_log import RecordHook, log_record
from mimo2codex.responses_api import create_response
from mimo2codex.settings import Settings
from mimo2codex.store import Store, open_store
from mimo2codex.upstream import AiohttpTransport, Timeouts, Transport

log = logging.getLogger("mimo2codex")


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def list_models(request: Request) -> Response:
    gateway = _gateway(request)
    data: list[dict[str, Any]] = []
    seen: set[str] = set()
    for provider in gateway.router.providers:
        ids = [m.id for m in provider.models] or ([provider.default_model] if provider.default_model else [])
        for model_id in ids:
            if model_id not in seen:
                seen.add(model_id)
                data.append({"id": model_id, "object": "model", "created": 0, "owned_by": provider.id})
    return json_response({"object": "list", "data": data})


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def status(request: Request) -> Response:
    gateway = _gateway(request)
    settings = gateway.settings
    return json_response(
        {
            "name": "mimo2codex",
            "version": __version__,
            "status": "ok",
            "listen": settings.listen_url,
            "default_provider": gateway.router.default.id,
            "providers": [
                {
                    "id": p.id,
                    "display_name": p.display_name,
                    "base_url": p.base_url,
                    "wire_api": p.wire_api.value,
                    "has_key": bool(p.api_key),
                    "default_model": p.default_model,
                    "models": [m.id for m in p.models],
                }
                for p in gateway.router.providers
            ],
            "store": _store_state(gateway),
            "endpoints": [
                "POST /v1/responses",
                "POST /v1/chat/completions",
                "GET /v1/models",
                "GET /healthz",
            ],
        }
    )


def _store_state(gateway: Gateway) -> dict[str, Any] | None:
    return None if gateway.store is None else dataclasses.asdict(gateway.store.state())


def _error_response(exc: GatewayError) -> Response:
    return json_response(exc.to_body(), status=exc.status_code, headers=exc.headers())


async def _handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    if isinstance(exc, UpstreamError):
        log.warning("%s %s -> %d %s", request.method, request.url.path, exc.status_code, exc.message)
    if isinstance(exc, PayloadTooLarge):
        return RefusalResponse(exc)  # drains the rest of the upload so the client reads the 413
    return _error_response(exc)


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: GatewayError = MethodNotAllowed(f"method {request.method} is not allowed on {request.url.path}")
        response = _error_response(error)
        if exc.headers and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    if exc.status_code == 404:
        return _error_response(NotFound(f"no route for {request.method} {request.url.path}"))
    return json_response(
        {"error": {"message": str(exc.detail), "type": "invalid_request_error", "param": None, "code": None}},
        status=exc.status_code,
    )


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    # A bug: log the traceback for us, show the client an OpenAI-shaped 500 without one.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response(
        {
            "error": {
                "message": f"internal error in mimo2codex ({type(exc).__name__}); see the gateway log",
                "type": "server_error",
                "param": None,
                "code": "internal_error",
            }
        },
        status=500,
    )


def create_app(
    settings: Settings,
    *,
    transport: Transport | None = None,
    store: Store | None = None,
    record_hooks: Sequence[RecordHook] = (log_record,),
    env: Mapping[str, str] | None = None,
) -> Starlette:
    """Build the gateway app. ``transport`` is the upstream seam (default: pooled aiohttp clients);
    ``store`` the request log's (default: opened from the settings, flushed and closed at shutdown;
    a store passed in is opened and closed by its owner). ``env`` is what a live reload of the
    configuration reads (the admin console; default: the process environment)."""

    metrics = Metrics()  # GET /metrics (Prometheus), fed by a record hook and the in-flight middleware

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = transport is None
        active = transport or AiohttpTransport(
            Timeouts(settings.connect_timeout, settings.first_byte_timeout, settings.idle_timeout),
            trust_env=settings.use_proxy,
        )
        log_store = store or open_store(settings)
        if store is None:
            await asyncio.to_thread(log_store.open)  # migrations (a Node database's import) off the loop
        metrics.store = log_store
        app.state.gateway = Gateway(settings, settings.router(), active, [*record_hooks, metrics.observe], log_store)
        app.state.started_at = time.time()
        try:
            admin_part = console.running(app.state.gateway) if console else contextlib.nullcontext()
            async with heap_trimmer(), admin_part:
                yield
        finally:
            if owned:
                await active.aclose()
            if store is None:
                await asyncio.to_thread(log_store.close)

    routes: list[BaseRoute] = []
    for prefix in ("/v1", ""):
        # Both with and without /v1: users paste base URLs either way.
        routes += [
            Route(f"{prefix}/responses", create_response, methods=["POST"]),
            Route(f"{prefix}/chat/completions", chat_completions, methods=["POST"]),
            Route(f"{prefix}/models", list_models, methods=["GET"]),
            *stored_responses.routes(prefix),  # GET / DELETE /responses/{id}, .../input_items
        ]
    routes += [Route("/healthz", healthz, methods=["GET"]), Route("/", status, methods=["GET"])]
    routes.append(Route(CATALOG_PATH, codex_models, methods=["GET"]))  # model_catalog_url (catalog.py)
    routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    console = AdminConsole(settings, env=env) if settings.admin else None
    if console is not None:
        routes += console.routes()  # /admin/ pages and /admin/api (mimo2codex.admin)
    # The browser guard first (Host check against DNS rebinding, JSON-only bodies: admin/security.py).
    middleware = [admin_guard(settings, console)]
    # Tokens, when configured, guard every route but /healthz, on loopback too: a user who set
    # them expects them to be required. The admin checks its own token (admin/security.py).
    if settings.auth_tokens:
        middleware.append(Middleware(BearerAuthMiddleware, tokens=settings.auth_tokens, open_prefixes=("/admin",)))
    middleware.append(Middleware(StreamsInFlight, metrics=metrics))
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            GatewayError: _handle_gateway_error,
            HTTPException: _handle_http_exception,
            Exception: _handle_unexpected,
        },
    )


def production_app(settings: Settings) -> Starlette:
    """The app as ``mimo2codex`` serves it: :func:`create_app` with its defaults, the collector tuned."""
    app = create_app(settings)
    tune_gc()
    return app


def app_from_env() -> Starlette:
    """The uvicorn factory of each ``--workers N`` worker process (``mimo2codex.server:app_from_env``)."""
    from mimo2codex.cli import worker_settings  # the CLI owns the command line the settings come from

    return production_app(worker_settings())


def tune_gc() -> None:
    """Tune the garbage collector for a long-running server, once everything is imported.

    Each request parses a ~40 KB Codex body into thousands of dicts and lists. With the default
    thresholds their allocation starts a collection every 700 objects, and the older generations'
    collections walk every object the process holds, the ~100k of the imported modules included:
    profiles showed a quarter of a non-streamed request's CPU in the collector. Freezing moves the
    startup heap out of the collector's reach for good, and a larger first threshold lets a request's
    short-lived objects die by reference counting before a collection walks them (another 5-10% of a
    request's CPU at 64 concurrent requests). Cyclic garbage is still collected, a little later.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
