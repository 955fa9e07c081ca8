"""``GET /admin/api/openapi.json``: the OpenAPI 3 document of the admin API, built from its route table.

The document is generated from the same :class:`~mimo2codex.admin.spec.ApiRoute` list the API is
mounted from, so every route, parameter and schema it describes is the one that answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex import __version__
from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.security import API_PREFIX
from mimo2codex.admin.spec import ANY_OBJ, ERROR, ApiRoute
from mimo2codex.http_body import json_response

_ERROR_RESPONSE = {
    "description": "an error, in the OpenAI error shape",
    "content": {"application/json": {"schema": ERROR}},
}


def _operation(route: ApiRoute) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
        "summary": route.summary,
        "tags": [route.tag],
        "responses": {},
    }
    if route.params:
        operation["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "schema": p.schema,
                **({"description": p.description} if p.description else {}),
            }
            for p in route.params
        ]
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
    for status, schema in route.responses.items():
        operation["responses"][str(status)] = {
            "description": "success",
            "content": {"application/json": {"schema": schema}},
        }
    for status, media in route.media.items():
        operation["responses"][str(status)] = {
            "description": "success",
            "content": {name: {"schema": schema} for name, schema in media.items()},
        }
    operation["responses"]["default"] = _ERROR_RESPONSE
    return operation


def document(routes: Sequence[ApiRoute]) -> dict[str, Any]:
    """The OpenAPI 3.0 document describing ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(API_PREFIX + route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mimo2codex admin API",
            "version": __version__,
            "description": "JSON over HTTP. State-changing requests need Content-Type: application/json and, "
            "from a browser, a same-origin Origin. Beyond loopback (or with tokens) send "
            "Authorization: Bearer <admin token>. Errors use the OpenAI error shape.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
        },
    }


def route(routes: Sequence[ApiRoute]) -> ApiRoute:
    """The route serving the document (it describes itself too)."""
    cached: dict[str, Any] = {}

    async def openapi(ctx: AdminContext, request: Request) -> Response:
        if not cached:
            cached.update(document([*routes, this]))
        return json_response(cached)

    this = ApiRoute(
        "GET",
        "/openapi.json",
        openapi,
        "This document",
        "overview",
        responses={200: {**ANY_OBJ, "required": ["openapi", "paths"]}},
    )
    return this


def routes_table(routes: Sequence[ApiRoute]) -> str:
    """The Markdown route table of docs/admin.md (checked by tests/admin/test_admin_docs.py)."""
    lines = ["| Method | Path | Parameters | What it does |", "|---|---|---|---|"]
    for spec in routes:
        params = ", ".join(f"`{p.name}`" for p in spec.params if p.where == "query")
        lines.append(f"| {spec.method} | `{API_PREFIX}{spec.path}` | {params} | {spec.summary} |")
    return "\n".join(lines) + "\n"
