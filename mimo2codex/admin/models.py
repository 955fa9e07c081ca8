"""Custom models and aliases: ``providers/{id}/models``, ``models/{id}``, ``aliases`` (the Node tool's routes).

They live in the store (shared by every instance on one database) and routing honours them at once:
after each change the router is rebuilt with them (:func:`mimo2codex.admin.runtime.build_router`); other
instances pick the change up within :data:`mimo2codex.admin.watcher.STORE_POLL` seconds. The catalog
models of a provider (built-ins, providers.json) are listed read-only, with ``is_builtin`` set.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.providers_edit import refuse_keys
from mimo2codex.admin.runtime import provider_or_404
from mimo2codex.admin.spec import BOOL, DELETED, INT, STR, ApiRoute, Param, arr, nullable, obj
from mimo2codex.errors import Conflict, InvalidRequest, NotFound
from mimo2codex.http_body import json_response, read_json_object
from mimo2codex.providers.base import ModelInfo

_BODY_LIMIT = 64 * 1024
_FLAGS = ("supports_images", "supports_reasoning", "supports_web_search")
_TEXTS = ("display_name", "deprecated_after")
_COUNTS = ("context_window", "sort_order")
_EDITABLE = ("upstream_id", *_TEXTS, *_FLAGS, *_COUNTS)


def model_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored custom model in the Node tool's field names."""
    return {
        "id": str(row["id"]),
        "provider_id": str(row["provider_id"]),
        "upstream_id": str(row["upstream_model"]),
        "display_name": row.get("display_name"),
        "supports_images": bool(row.get("supports_images")),
        "supports_reasoning": bool(row.get("supports_reasoning")),
        "supports_web_search": bool(row.get("supports_web_search")),
        "context_window": row.get("context_window"),
        "is_builtin": False,
        "deprecated_after": row.get("deprecated_after"),
        "sort_order": row.get("sort_order", 100),
    }


def catalog_json(provider_id: str, info: ModelInfo, order: int) -> dict[str, Any]:
    return {
        "id": None,
        "provider_id": provider_id,
        "upstream_id": info.id,
        "display_name": info.display_name or None,
        "supports_images": info.supports_images,
        "supports_reasoning": info.supports_reasoning,
        "supports_web_search": info.supports_web_search,
        "context_window": info.context_window,
        "is_builtin": True,
        "deprecated_after": "legacy" if info.legacy else None,
        "sort_order": order,
        "aliases": list(info.aliases),
    }


def alias_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "alias": str(row["alias"]),
        "provider_id": str(row["provider_id"]),
        "upstream_id": str(row.get("upstream_model", row.get("upstream_id", ""))),
    }


async def refresh_catalog(ctx: AdminContext) -> None:
    """Read the store's models and aliases and rebuild the router with them."""
    store = ctx.need_store()
    models = [model_json(row) for row in await ctx.call(store.models)]
    aliases = [alias_json(row) for row in await ctx.call(store.aliases)]
    ctx.catalog = (models, aliases)
    ctx.apply(ctx.live.current, "store")


def _checked(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    refuse_keys(body, ())
    unknown = sorted(set(body) - set(_EDITABLE))
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}; a model has {', '.join(_EDITABLE)}", param=unknown[0])
    fields: dict[str, Any] = {}
    if not partial or "upstream_id" in body:
        upstream = body.get("upstream_id")
        if not isinstance(upstream, str) or not upstream.strip() or len(upstream) > 200:
            raise InvalidRequest(
                "upstream_id required: the model id the provider knows", code="missing_upstream_id", param="upstream_id"
            )
        fields["upstream_id"] = upstream.strip()
    for name in _TEXTS:
        if name in body:
            value = body[name]
            if value is not None and (not isinstance(value, str) or len(value) > 200):
                raise InvalidRequest(f"{name} must be a text of at most 200 characters or null", param=name)
            fields[name] = value.strip() if isinstance(value, str) and value.strip() else None
    for name in _FLAGS:
        if name in body:
            if not isinstance(body[name], bool):
                raise InvalidRequest(f"{name} must be true or false", param=name)
            fields[name] = body[name]
    for name in _COUNTS:
        if name in body:
            value = body[name]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000_000
            ):
                raise InvalidRequest(f"{name} must be a whole number from 0 to 100000000, or null", param=name)
            fields[name] = value
    return fields


def _stored(model_id: str, provider_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": model_id, "provider_id": provider_id}
    for name, value in fields.items():
        row["upstream_model" if name == "upstream_id" else name] = value
    return row


async def list_models(ctx: AdminContext, request: Request) -> Response:
    provider = provider_or_404(ctx.settings, request.path_params["id"])
    listed = [catalog_json(provider.id, info, index) for index, info in enumerate(provider.models)]
    if ctx.store is not None:
        rows = await ctx.call(ctx.store.models)
        listed += [model_json(row) for row in rows if row.get("provider_id") == provider.id]
    return json_response({"models": listed})


async def add_model(ctx: AdminContext, request: Request) -> Response:
    provider = provider_or_404(ctx.settings, request.path_params["id"])
    store = ctx.need_store()
    fields = _checked(await read_json_object(request, _BODY_LIMIT), partial=False)
    if provider.model_info(fields["upstream_id"]) is not None:
        raise Conflict(f"'{fields['upstream_id']}' is already in {provider.id}'s catalog", param="upstream_id")
    existing = [r for r in await ctx.call(store.models) if r.get("provider_id") == provider.id]
    if any(r.get("upstream_model") == fields["upstream_id"] for r in existing):
        raise Conflict(f"'{fields['upstream_id']}' is already a custom model of {provider.id}", param="upstream_id")
    fields.setdefault("sort_order", 100)
    row = await ctx.call(store.put_model, _stored(f"m-{secrets.token_hex(6)}", provider.id, fields))
    async with ctx.edit_lock:
        await refresh_catalog(ctx)
    return json_response({"model": model_json(row)}, status=201)


async def _find_model(ctx: AdminContext, model_id: str) -> dict[str, Any]:
    for row in await ctx.call(ctx.need_store().models):
        if str(row.get("id")) == model_id:
            return row
    raise NotFound(
        f"model {model_id} not found (catalog models of built-in providers and providers.json are read-only)",
        param="id",
    )


async def patch_model(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    fields = _checked(await read_json_object(request, _BODY_LIMIT), partial=True)
    row = await _find_model(ctx, request.path_params["id"])
    merged = {**row, **_stored(row["id"], row["provider_id"], fields)}
    updated = await ctx.call(
        store.put_model, {k: v for k, v in merged.items() if k not in ("created_ms", "updated_ms")}
    )
    async with ctx.edit_lock:
        await refresh_catalog(ctx)
    return json_response({"model": model_json(updated)})


async def delete_model(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    row = await _find_model(ctx, request.path_params["id"])
    await ctx.call(store.delete_model, str(row["id"]))
    async with ctx.edit_lock:
        await refresh_catalog(ctx)
    return json_response({"deleted": True})


async def list_aliases(ctx: AdminContext, request: Request) -> Response:
    rows = await ctx.call(ctx.need_store().aliases)
    return json_response({"aliases": [alias_json(row) for row in rows]})


async def add_alias(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    body = await read_json_object(request, _BODY_LIMIT)
    refuse_keys(body, ())
    values = {name: body.get(name) for name in ("alias", "provider_id", "upstream_id")}
    for name, value in values.items():
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise InvalidRequest("alias, provider_id and upstream_id required", code="missing_fields", param=name)
    provider_id = str(values["provider_id"]).strip()
    if not any(p.id == provider_id for p in ctx.settings.providers):
        raise InvalidRequest(f"unknown provider {provider_id}", code="unknown_provider", param="provider_id")
    alias = str(values["alias"]).strip()
    await ctx.call(store.put_alias, alias, provider_id, str(values["upstream_id"]).strip())
    async with ctx.edit_lock:
        await refresh_catalog(ctx)
    return json_response({"alias": alias}, status=201)


async def delete_alias(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    alias = request.path_params["alias"]
    if not await ctx.call(store.delete_alias, alias):
        raise NotFound(f"alias {alias} not found", param="alias")
    async with ctx.edit_lock:
        await refresh_catalog(ctx)
    return json_response({"deleted": True})


MODEL = obj(
    {
        "id": nullable(STR),
        "provider_id": STR,
        "upstream_id": STR,
        "display_name": nullable(STR),
        "supports_images": BOOL,
        "supports_reasoning": BOOL,
        "supports_web_search": BOOL,
        "context_window": nullable(INT),
        "is_builtin": BOOL,
        "deprecated_after": nullable(STR),
        "sort_order": nullable(INT),
        "aliases": arr(STR),
    },
    "id",
    "provider_id",
    "upstream_id",
    "is_builtin",
)
_TEXT_200: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200}
MODEL_INPUT = obj(
    {
        "upstream_id": _TEXT_200,
        "display_name": nullable({"type": "string", "maxLength": 200}),
        "supports_images": BOOL,
        "supports_reasoning": BOOL,
        "supports_web_search": BOOL,
        "context_window": nullable({"type": "integer", "minimum": 0, "maximum": 100_000_000}),
        "deprecated_after": nullable({"type": "string", "maxLength": 200}),
        "sort_order": nullable({"type": "integer", "minimum": 0, "maximum": 100_000_000}),
    },
    extra=False,
)
ALIAS = obj({"alias": STR, "provider_id": STR, "upstream_id": STR}, "alias", "provider_id", "upstream_id")
_PROVIDER_ID = Param("id", STR, "path", True, "provider id or shortcut")
_MODEL_ID = Param("id", STR, "path", True, "a custom model's id")

ROUTES = (
    ApiRoute(
        "GET",
        "/providers/{id}/models",
        list_models,
        "A provider's models: its catalog (read-only, is_builtin) and the custom ones",
        "models",
        params=(_PROVIDER_ID,),
        responses={200: obj({"models": arr(MODEL)}, "models")},
    ),
    ApiRoute(
        "POST",
        "/providers/{id}/models",
        add_model,
        "Add a custom model to a provider (routing honours it at once)",
        "models",
        params=(_PROVIDER_ID,),
        body={**MODEL_INPUT, "required": ["upstream_id"]},
        responses={201: obj({"model": MODEL}, "model")},
    ),
    ApiRoute(
        "PATCH",
        "/models/{id}",
        patch_model,
        "Change a custom model",
        "models",
        params=(_MODEL_ID,),
        body=MODEL_INPUT,
        responses={200: obj({"model": MODEL}, "model")},
    ),
    ApiRoute(
        "DELETE",
        "/models/{id}",
        delete_model,
        "Delete a custom model",
        "models",
        params=(_MODEL_ID,),
        responses={200: DELETED},
    ),
    ApiRoute(
        "GET",
        "/aliases",
        list_aliases,
        "Every alias",
        "models",
        responses={200: obj({"aliases": arr(ALIAS)}, "aliases")},
    ),
    ApiRoute(
        "POST",
        "/aliases",
        add_alias,
        "Add or replace an alias: a client model id routed to a provider's model",
        "models",
        body=obj(
            {"alias": _TEXT_200, "provider_id": _TEXT_200, "upstream_id": _TEXT_200},
            "alias",
            "provider_id",
            "upstream_id",
        ),
        responses={201: obj({"alias": STR}, "alias")},
    ),
    ApiRoute(
        "DELETE",
        "/aliases/{alias}",
        delete_alias,
        "Delete an alias",
        "models",
        params=(Param("alias", STR, "path", True, "the alias (may contain '/')", slashes=True),),
        responses={200: DELETED},
    ),
)
