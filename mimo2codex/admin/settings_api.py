"""``GET settings``, ``PUT|DELETE settings/{key}``: the store's typed, allow-listed settings table.

A toggle or a storage-policy key set here takes the same path as ``toggles/{name}`` and ``storage``
(checked, locked by flags and env vars, applied at once). A key that names a credential is refused
with a message saying where keys belong: in environment variables.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.spec import ANY_OBJ, DELETED, STR, ApiRoute, Param, obj
from mimo2codex.admin.toggles import BY_NAME, POLICY, apply_policy, set_toggle
from mimo2codex.errors import Conflict, InvalidRequest, NotFound
from mimo2codex.http_body import json_response, read_json_object
from mimo2codex.store.preferences import check_setting

_BODY_LIMIT = 16 * 1024
_KEY_WORDS = ("key", "token", "secret", "password", "credential", "auth")


def _refuse_credentials(key: str) -> None:
    if any(word in key.lower() for word in _KEY_WORDS):
        raise InvalidRequest(
            f"{key} cannot be stored by the admin: API keys and tokens are read from environment variables only "
            "(e.g. MIMO_API_KEY, DEEPSEEK_API_KEY, or the envKey a providers.json entry names); set it there and "
            "restart mimo2codex",
            code="forbidden_setting",
            param="key",
        )


async def list_settings(ctx: AdminContext, request: Request) -> Response:
    return json_response({"settings": await ctx.call(ctx.need_store().settings)})


async def put_setting(ctx: AdminContext, request: Request) -> Response:
    key = request.path_params["key"]
    _refuse_credentials(key)
    store = ctx.need_store()
    body = await read_json_object(request, _BODY_LIMIT)
    if "value" not in body:
        raise InvalidRequest('body must be {"value": ...}', code="invalid_value", param="value")
    value: Any = body["value"]
    if key in BY_NAME:
        toggle = await set_toggle(ctx, key, value)
        return json_response({"key": key, "value": toggle["value"]})
    lock = ctx.live.lock(key)
    if key in POLICY and lock is not None:
        raise Conflict(f"{key} is locked by {lock.by}, given at startup", code="locked", param="key")
    checked = check_setting(key, value)
    await ctx.call(store.put_setting, key, checked)
    if key in POLICY:
        apply_policy(ctx, {key: checked})
    return json_response({"key": key, "value": checked})


async def delete_setting(ctx: AdminContext, request: Request) -> Response:
    key = request.path_params["key"]
    store = ctx.need_store()
    if key in BY_NAME and key in ctx.live.toggles:
        await set_toggle(ctx, key, None)
        return json_response({"deleted": True})
    if not await ctx.call(store.delete_setting, key):
        raise NotFound(f"setting {key} not found", param="key")
    return json_response({"deleted": True})


_KEY = Param("key", {"type": "string", "minLength": 1, "maxLength": 100}, "path", True)

ROUTES = (
    ApiRoute(
        "GET",
        "/settings",
        list_settings,
        "Every stored setting (toggles, storage policy, UI preferences)",
        "settings",
        responses={200: obj({"settings": ANY_OBJ}, "settings")},
    ),
    ApiRoute(
        "PUT",
        "/settings/{key}",
        put_setting,
        "Store a setting (allow-listed and typed; credentials refused)",
        "settings",
        params=(_KEY,),
        body=obj({"value": {"nullable": True}}, "value"),
        responses={200: obj({"key": STR, "value": {"nullable": True}}, "key", "value")},
    ),
    ApiRoute(
        "DELETE",
        "/settings/{key}",
        delete_setting,
        "Remove a stored setting (a toggle goes back to its default)",
        "settings",
        params=(_KEY,),
        responses={200: DELETED},
    ),
)
