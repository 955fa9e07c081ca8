"""``GET codex/status``, ``POST codex/enable``, ``POST codex/restore``: the Setup page's one-click Codex setup.

Thin routes over :mod:`mimo2codex.codex_setup` (the same functions as ``mimo2codex codex ...``), run
on a worker thread: they read and write files in ``$CODEX_HOME``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.spec import BOOL, STR, ApiRoute, arr, nullable, obj
from mimo2codex.codex_setup import codex_home, enable, restore, setup_state
from mimo2codex.errors import ConfigError, Conflict, InvalidRequest
from mimo2codex.http_body import json_response, read_json_object


async def status(ctx: AdminContext, request: Request) -> Response:
    state = await ctx.call(setup_state, codex_home(ctx.env))
    return json_response(state.to_json())


async def enable_codex(ctx: AdminContext, request: Request) -> Response:
    body = await read_json_object(request, 16 * 1024)
    keep_login = body.get("keep_login", False)
    if not isinstance(keep_login, bool):
        raise InvalidRequest("keep_login must be true or false", param="keep_login")
    provider = body.get("model")
    if provider is not None and (not isinstance(provider, str) or not provider.strip()):
        raise InvalidRequest("model must be a provider id or shortcut", param="model")
    settings = ctx.settings
    try:
        if provider:
            toggles = {**ctx.live.toggles, "default_provider": provider.strip()}
            settings = await ctx.call(lambda: ctx.live.build(toggles=toggles))
        state = await ctx.call(lambda: enable(settings, codex_home(ctx.env), keep_login=keep_login))
    except ConfigError as exc:
        raise InvalidRequest(str(exc), code="codex_setup_failed", param="model" if provider else None) from None
    return json_response(state.to_json())


async def restore_codex(ctx: AdminContext, request: Request) -> Response:
    try:
        state = await ctx.call(restore, codex_home(ctx.env))
    except ConfigError as exc:
        raise Conflict(str(exc), code="nothing_to_restore") from None
    return json_response(state.to_json())


STATE: dict[str, Any] = obj(
    {
        "home": STR,
        "enabled": BOOL,
        "provider_key": nullable(STR),
        "model": nullable(STR),
        "base_url": nullable(STR),
        "keep_login": nullable(BOOL),
        "active_provider": nullable(STR),
        "key_env": nullable(STR),
        "edited_since": arr(STR),
        "backups": arr(STR),
        "problem": nullable(STR),
    },
    "home",
    "enabled",
)

ROUTES = (
    ApiRoute(
        "GET", "/codex/status", status, "Whether Codex is pointed at this gateway", "setup", responses={200: STATE}
    ),
    ApiRoute(
        "POST",
        "/codex/enable",
        enable_codex,
        "Merge the provider into $CODEX_HOME/config.toml (backups kept; auth.json only without keep_login)",
        "setup",
        body=obj({"model": {"type": "string", "minLength": 1, "maxLength": 200}, "keep_login": BOOL}),
        responses={200: STATE},
    ),
    ApiRoute(
        "POST",
        "/codex/restore",
        restore_codex,
        "Put back the files enable found, byte for byte",
        "setup",
        body=obj({}),
        responses={200: STATE},
    ),
)
