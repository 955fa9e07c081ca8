"""Runtime toggles and the storage policy: changed from the admin, applied to the next request.

A toggle is a :class:`~mimo2codex.settings.Settings` field (thinking, web search, shown reasoning, the
vision fallback model, the default provider). Changing one rebuilds the settings with the startup
loader (so a default provider without a key is refused with the startup message) and swaps them in;
the value is kept in the store's ``settings`` table under the field's name, so every instance on one
database follows it (:mod:`mimo2codex.admin.watcher`), and a gateway that starts applies it
(:mod:`mimo2codex.admin.stored_toggles`). An option given by an env var or a flag is locked: the toggle
says which one, and a change is refused (409) until it is removed.

The storage policy (body capture, body cap, retention, size cap) is applied to the running store and
kept in the same table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.admin.context import AdminContext, tunable
from mimo2codex.admin.spec import ANY_OBJ, STR, ApiRoute, Param, arr, nullable, obj
from mimo2codex.errors import ConfigError, Conflict, InvalidRequest, NotFound
from mimo2codex.http_body import json_response, read_json_object
from mimo2codex.options import OPTIONS
from mimo2codex.settings import Settings
from mimo2codex.store.capture import BODY_MODES, CapturePolicy
from mimo2codex.store.preferences import check_setting

_BODY_LIMIT = 16 * 1024
_BY_FIELD = {option.field: option for option in OPTIONS}


@dataclass(frozen=True, slots=True)
class Toggle:
    name: str
    #: "bool" or "text"
    kind: str
    effect: str
    #: text toggles: the option's parser normalizes and checks the value
    parse: Callable[[str], Any] | None = None


def _field_exists(name: str) -> bool:
    return name in Settings.__dataclass_fields__


TOGGLES: tuple[Toggle, ...] = tuple(
    toggle
    for toggle in (
        Toggle("thinking", "bool", "thinking mode upstream, for providers with a switch (MiMo)"),
        Toggle("web_search", "bool", "forward Codex's web_search tool to vendors that have one"),
        Toggle("expose_reasoning", "bool", "show the model's reasoning in Codex (it is replayed either way)"),
        Toggle("vision_model", "text", "the model that reads images for text-only models: PROVIDER/MODEL or off"),
        Toggle("default_provider", "text", "the provider that serves models no keyed provider claims"),
        Toggle(
            "auto_compact", "bool", "summarise the oldest turns of a request that would overflow the model's window"
        ),
    )
    if _field_exists(toggle.name)
)
BY_NAME = {toggle.name: toggle for toggle in TOGGLES}
#: the storage policy: setting name -> the store attribute it tunes
POLICY = ("log_bodies", "log_body_max", "log_retention_days", "log_max_mb")


def toggle_json(ctx: AdminContext, toggle: Toggle) -> dict[str, Any]:
    lock = ctx.live.lock(toggle.name)
    option = _BY_FIELD.get(toggle.name)
    source = "default"
    if lock is not None:
        source = "env" if option is not None and lock.by == option.env else "flag"
    elif toggle.name in ctx.live.toggles:
        source = "admin"
    return {
        "name": toggle.name,
        "type": toggle.kind,
        "value": getattr(ctx.settings, toggle.name),
        "startup": getattr(ctx.live.startup, toggle.name),
        "source": source,
        "locked_by": lock.by if lock else None,
        "env": option.env if option else None,
        "flag": option.flag if option else None,
        "effect": toggle.effect,
        "applies": "next request",
        "choices": [p.id for p in ctx.settings.providers if p.api_key] if toggle.name == "default_provider" else None,
    }


def _value(toggle: Toggle, value: Any) -> Any:
    if toggle.kind == "bool":
        if not isinstance(value, bool):
            raise InvalidRequest(f"{toggle.name} must be true or false", param="value")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidRequest(f"{toggle.name} must be a non-empty text", param="value")
    option = _BY_FIELD.get(toggle.name)
    try:
        return option.parse(value) if option is not None else value.strip()
    except ValueError as exc:
        raise InvalidRequest(f"{toggle.name}: {exc}", param="value") from None


async def set_toggle(ctx: AdminContext, name: str, value: Any) -> dict[str, Any]:
    """Apply toggle ``name`` (``value`` None: back to its default, the stored value removed) and keep it."""
    toggle = BY_NAME.get(name)
    if toggle is None:
        raise NotFound(f"unknown toggle {name!r}; known: {', '.join(BY_NAME)}", param="name")
    lock = ctx.live.lock(name)
    if lock is not None:
        raise Conflict(
            f"{name} is locked by {lock.by}, which was given at startup; remove it there to change {name} here",
            code="locked",
            param="name",
        )
    checked = None if value is None else _value(toggle, value)
    async with ctx.edit_lock:
        wanted = {k: v for k, v in ctx.live.toggles.items() if k != name}
        if checked is not None:
            wanted[name] = checked
        try:
            settings = await ctx.call(lambda: ctx.live.build(toggles=wanted))
        except ConfigError as exc:
            raise InvalidRequest(str(exc), code="invalid_toggle", param="value") from None
        if ctx.store is not None:
            if checked is None:
                await ctx.call(ctx.store.delete_setting, name)
            else:
                await ctx.call(ctx.store.put_setting, name, checked)
        ctx.live.toggles = wanted
        ctx.apply(settings, "toggle")
    return toggle_json(ctx, toggle)


async def list_toggles(ctx: AdminContext, request: Request) -> Response:
    return json_response({"toggles": [toggle_json(ctx, t) for t in TOGGLES]})


async def put_toggle(ctx: AdminContext, request: Request) -> Response:
    body = await read_json_object(request, _BODY_LIMIT)
    if "value" not in body:
        raise InvalidRequest('body must be {"value": ...} (null: back to the default)', param="value")
    return json_response({"toggle": await set_toggle(ctx, request.path_params["name"], body["value"])})


async def delete_toggle(ctx: AdminContext, request: Request) -> Response:
    return json_response({"toggle": await set_toggle(ctx, request.path_params["name"], None)})


# -- the storage policy -----------------------------------------------------------------------------


def policy_json(ctx: AdminContext) -> dict[str, Any]:
    store = tunable(ctx.store)
    values: dict[str, Any] = {name: getattr(ctx.live.startup, name, None) for name in POLICY}
    if store is not None:
        values.update(
            log_bodies=store.policy.mode,
            log_body_max=store.policy.max_bytes,
            log_retention_days=store.retention_days,
            log_max_mb=store.max_mb,
        )
    locks = {name: ctx.live.lock(name) for name in POLICY}
    return {
        "policy": values,
        "locked_by": {name: lock.by if lock else None for name, lock in locks.items()},
        "modes": list(BODY_MODES),
        "store": None if ctx.store is None else ctx.store.backend,
    }


def apply_policy(ctx: AdminContext, values: Mapping[str, Any]) -> None:
    """Tune the running store (the writer reads these attributes on its next batch)."""
    store = tunable(ctx.store)
    if store is None or not values:
        return
    current = store.policy
    if "log_bodies" in values or "log_body_max" in values:
        store.policy = CapturePolicy.build(
            values.get("log_bodies", current.mode), values.get("log_body_max", current.max_bytes), current.secrets
        )
    if "log_retention_days" in values:
        store.retention_days = int(values["log_retention_days"])
    if "log_max_mb" in values:
        store.max_mb = int(values["log_max_mb"])


async def get_storage(ctx: AdminContext, request: Request) -> Response:
    ctx.need_store()
    return json_response(policy_json(ctx))


async def put_storage(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    body = await read_json_object(request, _BODY_LIMIT)
    unknown = sorted(set(body) - set(POLICY))
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}; the policy has {', '.join(POLICY)}", param=unknown[0])
    checked: dict[str, Any] = {}
    for name, value in body.items():
        lock = ctx.live.lock(name)
        if lock is not None:
            raise Conflict(f"{name} is locked by {lock.by}, given at startup", code="locked", param=name)
        checked[name] = check_setting(name, value)
    for name, value in checked.items():
        await ctx.call(store.put_setting, name, value)
    apply_policy(ctx, checked)
    return json_response(policy_json(ctx))


TOGGLE = obj(
    {
        "name": STR,
        "type": {"type": "string", "enum": ["bool", "text"]},
        "value": {"nullable": True},
        "startup": {"nullable": True},
        "source": {"type": "string", "enum": ["default", "admin", "env", "flag"]},
        "locked_by": nullable(STR),
        "env": nullable(STR),
        "flag": nullable(STR),
        "effect": STR,
        "applies": STR,
        "choices": nullable(arr(STR)),
    },
    "name",
    "type",
    "value",
    "source",
    "locked_by",
)
_NAME = Param("name", {"type": "string", "enum": list(BY_NAME)}, "path", True)
POLICY_DOC = obj(
    {
        "policy": obj(
            {
                "log_bodies": nullable({"type": "string", "enum": list(BODY_MODES)}),
                "log_body_max": nullable({"type": "integer"}),
                "log_retention_days": nullable({"type": "integer"}),
                "log_max_mb": nullable({"type": "integer"}),
            }
        ),
        "locked_by": ANY_OBJ,
        "modes": arr(STR),
        "store": nullable(STR),
    },
    "policy",
    "locked_by",
)

ROUTES = (
    ApiRoute(
        "GET",
        "/toggles",
        list_toggles,
        "Runtime toggles: value, where it comes from, and what locks it",
        "settings",
        responses={200: obj({"toggles": arr(TOGGLE)}, "toggles")},
    ),
    ApiRoute(
        "PUT",
        "/toggles/{name}",
        put_toggle,
        "Change a toggle for the next request (409 when a flag or env var locks it)",
        "settings",
        params=(_NAME,),
        body=obj({"value": {"nullable": True}}, "value"),
        responses={200: obj({"toggle": TOGGLE}, "toggle")},
    ),
    ApiRoute(
        "DELETE",
        "/toggles/{name}",
        delete_toggle,
        "Put a toggle back to its default (its stored value is removed)",
        "settings",
        params=(_NAME,),
        responses={200: obj({"toggle": TOGGLE}, "toggle")},
    ),
    ApiRoute(
        "GET", "/storage", get_storage, "The request log's storage policy", "settings", responses={200: POLICY_DOC}
    ),
    ApiRoute(
        "PUT",
        "/storage",
        put_storage,
        "Change the storage policy (applied to the running store, shared through the database)",
        "settings",
        body=obj(
            {
                "log_bodies": {"type": "string", "enum": list(BODY_MODES)},
                "log_body_max": {"type": "integer", "minimum": 1},
                "log_retention_days": {"type": "integer", "minimum": 0},
                "log_max_mb": {"type": "integer", "minimum": 0},
            },
            extra=False,
        ),
        responses={200: POLICY_DOC},
    ),
)
