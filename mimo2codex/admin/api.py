"""The admin API's route table, mounted at ``/admin/api``: every module's routes, plus the OpenAPI document.

D's pages and scripts read the contract from :data:`ROUTES` (and ``/admin/api/openapi.json``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from mimo2codex.admin import codex, logs, models, overview, probe, providers_edit, settings_api, stats, toggles
from mimo2codex.admin import openapi as openapi_module
from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.security import API_PREFIX
from mimo2codex.admin.spec import ApiRoute, Handler

_TABLE: tuple[ApiRoute, ...] = (
    *overview.ROUTES,
    *providers_edit.ROUTES,
    *probe.ROUTES,
    *models.ROUTES,
    *logs.ROUTES,
    *stats.ROUTES,
    *settings_api.ROUTES,
    *toggles.ROUTES,
    *codex.ROUTES,
)
ROUTES: tuple[ApiRoute, ...] = (*_TABLE, openapi_module.route(_TABLE))


def mount(ctx: AdminContext) -> Mount:
    """``/admin/api``: one Starlette route per (path, method)."""
    by_path: dict[str, list[ApiRoute]] = {}
    for spec in ROUTES:
        by_path.setdefault(spec.starlette_path, []).append(spec)
    routes: list[Route] = []
    for path, specs in by_path.items():
        handlers = {spec.method: spec.handler for spec in specs}

        def dispatcher(handlers: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                return await handlers[request.method if request.method != "HEAD" else "GET"](ctx, request)

            return endpoint

        routes.append(Route(path, dispatcher(handlers), methods=list(handlers)))
    return Mount(API_PREFIX, routes=routes)
