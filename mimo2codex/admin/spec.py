"""How an admin API route is declared: path, method, handler and its request/response schemas in one place.

Every module of the admin API lists its :class:`ApiRoute` entries; :mod:`mimo2codex.admin.api` mounts
them and :mod:`mimo2codex.admin.openapi` describes the very same list, so the served OpenAPI document
cannot drift from the routes. Schemas are plain JSON-schema dicts (OpenAPI 3.0 dialect).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from mimo2codex.admin.context import AdminContext

Schema = dict[str, Any]
Handler = Callable[["AdminContext", Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    schema: Schema
    #: "query" or "path"
    where: str = "query"
    required: bool = False
    description: str = ""
    #: a path parameter that may contain "/" (an alias such as "qwen/qwen3")
    slashes: bool = False


@dataclass(frozen=True, slots=True)
class ApiRoute:
    method: str
    #: below /admin/api, OpenAPI style: "/providers/{id}/models"
    path: str
    handler: Handler
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    #: status -> schema of the JSON body (or a media type -> schema mapping for non-JSON bodies)
    responses: Mapping[int, Schema] = field(default_factory=dict)
    #: non-JSON success bodies: status -> {media type: schema}
    media: Mapping[int, Mapping[str, Schema]] = field(default_factory=dict)

    @property
    def starlette_path(self) -> str:
        path = self.path
        for param in self.params:
            if param.where == "path" and param.slashes:
                path = path.replace("{" + param.name + "}", "{" + param.name + ":path}")
        return path


# -- schema helpers ---------------------------------------------------------------------------------


def obj(properties: Mapping[str, Schema], *required: str, extra: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    return schema


def arr(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
ANY_OBJ: Schema = {"type": "object"}
ERROR: Schema = obj(
    {
        "error": obj(
            {"message": STR, "type": STR, "param": nullable(STR), "code": nullable(STR)},
            "message",
            "type",
        )
    },
    "error",
)
DELETED: Schema = obj({"deleted": BOOL}, "deleted")
