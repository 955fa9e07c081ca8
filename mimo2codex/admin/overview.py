"""``health``, ``providers``, ``setup-snippets`` and the live ``events`` feed: what the gateway is now."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mimo2codex import __version__
from mimo2codex.admin.context import AdminContext, Unavailable
from mimo2codex.admin.spec import ANY_OBJ, BOOL, INT, STR, ApiRoute, Param, arr, nullable, obj
from mimo2codex.errors import ConfigError, NotFound
from mimo2codex.http_body import json_response
from mimo2codex.providers.base import Provider
from mimo2codex.snippets import render_snippets
from mimo2codex.store.base import LogQuery, Store

#: seconds between keepalive comments of the events feed
EVENTS_KEEPALIVE = 15.0
#: with ``--workers N``, how often the feed reads the shared log
TAIL_POLL = 1.0


def provider_json(provider: Provider, default_id: str) -> dict[str, Any]:
    """One provider as the admin shows it: never its key, only whether it has one and where it comes from."""
    endpoint = provider.endpoint
    return {
        "id": provider.id,
        "shortcut": provider.shortcut or provider.id,
        "display_name": provider.display_name,
        "default": provider.id == default_id,
        "enabled": bool(provider.api_key) or provider.id == default_id,
        "api_key_present": bool(provider.api_key),
        "api_key_env": list(endpoint.key_envs) if endpoint else [],
        "key_source": provider.key_source or None,
        "base_url": provider.base_url,
        "default_model": provider.default_model,
        "wire_api": provider.wire_api.value,
        "builtin": provider.builtin,
        "source": provider.source,
        "open_catalog": not provider.models,
        "model_count": len(provider.models),
        "flags": {"force_default_model": provider.force_default_model},
    }


PROVIDER = obj(
    {
        "id": STR,
        "shortcut": STR,
        "display_name": STR,
        "default": BOOL,
        "enabled": BOOL,
        "api_key_present": BOOL,
        "api_key_env": arr(STR),
        "key_source": nullable(STR),
        "base_url": STR,
        "default_model": STR,
        "wire_api": {"type": "string", "enum": ["chat", "responses"]},
        "builtin": BOOL,
        "source": STR,
        "open_catalog": BOOL,
        "model_count": INT,
        "flags": ANY_OBJ,
    },
    "id",
    "display_name",
    "default",
    "enabled",
    "api_key_present",
    "base_url",
    "default_model",
)


async def health(ctx: AdminContext, request: Request) -> Response:
    settings = ctx.settings
    store_state: dict[str, Any] | None = None
    if ctx.store is not None:
        state = ctx.store.state()  # in memory: no I/O
        store_state = {
            "backend": state.backend,
            "status": state.status,
            "location": state.location,
            "queue_depth": state.queue_depth,
            "dropped": state.dropped,
            "written": state.written,
            "problem": state.problem,
        }
    return json_response(
        {
            "ok": True,
            "version": __version__,
            "dataDir": str(settings.data_dir),
            "listen": settings.listen_url,
            "default_provider": ctx.gateway.router.default.id,
            "store": store_state,
            "reload": ctx.reload.to_json(),
            "events_subscribers": ctx.events.subscribers,
        }
    )


async def providers(ctx: AdminContext, request: Request) -> Response:
    router = ctx.gateway.router
    listed = list(ctx.settings.providers)
    return json_response({"providers": [provider_json(p, router.default.id) for p in listed]})


async def setup_snippets(ctx: AdminContext, request: Request) -> Response:
    settings = ctx.settings
    wanted = request.query_params.get("provider") or None
    try:
        snippets = render_snippets(settings, wanted)
    except ConfigError as exc:  # an unknown provider; the message lists the known ones
        raise NotFound(str(exc), code="unknown_provider", param="provider") from None
    provider = next(p for p in settings.providers if p.id == snippets.provider_id)
    info = provider.model_info(snippets.model)
    bundle = {
        "target": {
            "providerId": snippets.provider_id,
            "providerKey": snippets.provider_key,
            "providerLabel": snippets.provider_name,
            "modelId": snippets.model,
            "contextWindow": info.context_window if info else None,
            "maxOutputTokens": info.max_output_tokens if info else None,
        },
        "authJson": snippets.auth_json,
        "configToml": snippets.config_toml,
        "configTomlEnvKey": snippets.config_toml_env_key,
        "ccSwitchAuthJson": snippets.auth_json,
        "ccSwitchConfigToml": snippets.cc_switch_config_toml,
        "printConfig": snippets.print_config(),
        "printConfigEnvKey": snippets.print_config(env_key=True),
        "printCcSwitch": snippets.print_cc_switch(),
        "baseUrl": snippets.base_url,
        "catalog": snippets.catalog,
        "needsToken": snippets.needs_token,
    }
    return json_response(
        {
            "bundle": bundle,
            "defaultProviderId": ctx.gateway.router.default.id,
            "providers": [
                {"id": p.id, "shortcut": p.shortcut or p.id, "display_name": p.display_name} for p in settings.providers
            ],
        }
    )


async def _tail(ctx: AdminContext, store: Store) -> AsyncIterator[bytes]:
    """The feed from the shared log: what every worker (and instance) wrote, polled once a second."""
    yield b"retry: 3000\n: connected\n\n"
    newest = await ctx.call(store.logs, LogQuery(limit=1))
    after = newest.rows[0]["id"] if newest.rows else 0
    idle = 0.0
    while True:
        await asyncio.sleep(TAIL_POLL)
        rows = await ctx.call(store.tail, LogQuery(after_id=after, limit=500))
        for row in rows:
            after = max(after, int(row["id"]))
            yield b"event: request\ndata: " + orjson.dumps(row) + b"\n\n"
        idle = 0.0 if rows else idle + TAIL_POLL
        if idle >= EVENTS_KEEPALIVE:
            idle = 0.0
            yield b": keepalive\n\n"


async def events(ctx: AdminContext, request: Request) -> Response:
    if ctx.events.full():
        raise Unavailable("too many live feeds are open; close one", code="too_many_subscribers")
    if ctx.settings.workers > 1 and ctx.store is not None:
        # each worker only sees its own requests: follow the shared log instead
        return StreamingResponse(
            _tail(ctx, ctx.store), media_type="text/event-stream", headers={"cache-control": "no-store"}
        )
    return StreamingResponse(
        ctx.events.stream(EVENTS_KEEPALIVE),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


SNIPPET_TARGET = obj(
    {
        "providerId": STR,
        "providerKey": STR,
        "providerLabel": STR,
        "modelId": STR,
        "contextWindow": nullable(INT),
        "maxOutputTokens": nullable(INT),
    },
    "providerId",
    "providerKey",
    "modelId",
)

ROUTES = (
    ApiRoute(
        "GET",
        "/health",
        health,
        "Liveness, version, the request log's state and the last configuration reload",
        "overview",
        responses={
            200: obj(
                {
                    "ok": BOOL,
                    "version": STR,
                    "dataDir": STR,
                    "listen": STR,
                    "default_provider": STR,
                    "store": nullable(ANY_OBJ),
                    "reload": obj({"ok": BOOL, "at": INT, "cause": STR, "error": nullable(STR), "warnings": arr(STR)}),
                    "events_subscribers": INT,
                },
                "ok",
                "version",
                "dataDir",
            )
        },
    ),
    ApiRoute(
        "GET",
        "/providers",
        providers,
        "Every configured provider (keys are never shown: only whether one is present)",
        "providers",
        responses={200: obj({"providers": arr(PROVIDER)}, "providers")},
    ),
    ApiRoute(
        "GET",
        "/setup-snippets",
        setup_snippets,
        "The Codex configuration for a provider, from the renderer `print-config` uses",
        "setup",
        params=(Param("provider", {"type": "string", "minLength": 1}, description="provider id or shortcut"),),
        responses={
            200: obj(
                {
                    "bundle": obj(
                        {
                            "target": SNIPPET_TARGET,
                            "authJson": STR,
                            "configToml": STR,
                            "configTomlEnvKey": STR,
                            "ccSwitchAuthJson": STR,
                            "ccSwitchConfigToml": STR,
                            "printConfig": STR,
                            "printConfigEnvKey": STR,
                            "printCcSwitch": STR,
                            "baseUrl": STR,
                            "catalog": STR,
                            "needsToken": BOOL,
                        },
                        "target",
                        "authJson",
                        "configToml",
                        "configTomlEnvKey",
                        "ccSwitchAuthJson",
                        "ccSwitchConfigToml",
                    ),
                    "defaultProviderId": STR,
                    "providers": arr(obj({"id": STR, "shortcut": STR, "display_name": STR})),
                },
                "bundle",
                "defaultProviderId",
                "providers",
            )
        },
    ),
    ApiRoute(
        "GET",
        "/events",
        events,
        "Live feed of finished requests (server-sent events: `event: request`, JSON data, no bodies)",
        "logs",
        media={200: {"text/event-stream": STR}},
    ),
)
