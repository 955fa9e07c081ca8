"""The admin console's pages: static HTML shells under ``/admin/`` and their JS/CSS under ``/admin/static/``.

Mounting (for the admin's mount point): ``routes += page_routes()``; the paths are absolute
(``/admin/``, ``/admin/logs``, ... and ``/admin/static/...``). The browser guard
(:mod:`mimo2codex.admin.security`) covers them like every admin route.

Every page is the same layout (``templates/layout.html``) around its own body
(``templates/<page>.html``), rendered once when the routes are built: a page costs the server the
same whatever the size of the request log (acceptance 4). The data comes from the admin API
(``/admin/api/*``), fetched by the page's module (``static/js/pages/<page>.js``), which builds the DOM
with ``textContent`` only: log bodies and model output are hostile text. The strings live in one
dictionary per language (``static/i18n/<lang>.json``, the same keys in each: ``tests/test_admin_pages.py``).

>>> routes = page_routes()
>>> sorted(r.path for r in routes if hasattr(r, "methods"))[:2]
['/admin', '/admin/']
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from mimo2codex import __version__
from mimo2codex.providers.presets import PRESETS

ROOT = "/admin/"
STATIC = "/admin/static"
API = "/admin/api"
#: page name -> path under /admin/ ("" is the dashboard)
PAGES: dict[str, str] = {
    "dashboard": "",
    "logs": "logs",
    "models": "models",
    "providers": "providers",
    "setup": "setup",
    "settings": "settings",
}
#: the English title in the served HTML, replaced by the page's language once its dictionary loads
_TITLES = {name: name.capitalize() for name in PAGES}

#: templates and static files ship in the wheel as package data (pyproject: package-data)
_PACKAGE = Path(__file__).resolve().parent


def _template(name: str) -> str:
    return (_PACKAGE / "templates" / name).read_text(encoding="utf-8")


def presets_json() -> str:
    """The vendor presets the Providers form offers, as a JSON data block (``<script type="application/json">``).

    Static data (it never depends on a request or the log); ``<`` is escaped so the text can never
    close the block.
    """
    data = [
        {
            "name": p.name,
            "display_name": p.display_name,
            "base_url": p.base_url,
            "env_key": p.env_key,
            "default_model": p.default_model,
            "docs_url": p.docs_url,
            "models": [m.id for m in p.models],
        }
        for p in PRESETS.values()
    ]
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(page: str) -> bytes:
    """One page's HTML. Every substituted value is escaped (none of them comes from a request)."""
    layout = Template(_template("layout.html"))
    values = {
        "title": _TITLES[page],
        "page": page,
        "root": ROOT,
        "static": STATIC,
        "api": API,
        "version": __version__,
    }
    escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
    body = Template(_template(f"{page}.html")).substitute(
        escaped, presets=presets_json() if page == "providers" else ""
    )
    return layout.substitute(escaped, body=body).encode("utf-8")


def _page(body: bytes) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering with one pre-rendered page."""

    async def endpoint(request: Request) -> Response:
        # no-cache: revalidated on every visit, so an upgraded gateway never serves a stale shell
        return Response(body, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    return endpoint


class _StaticFiles(StaticFiles):
    """The package's static directory; revalidated on each load (ETag), never stale after an upgrade."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


async def _to_root(request: Request) -> Response:
    return RedirectResponse(ROOT, status_code=308)


def page_routes() -> list[BaseRoute]:
    """The pages and their static files, with absolute paths (``/admin/...``)."""
    routes: list[BaseRoute] = [Route("/admin", _to_root, methods=["GET", "HEAD"])]
    for page, path in PAGES.items():
        routes.append(Route(ROOT + path, _page(render_page(page)), methods=["GET", "HEAD"], name=f"admin-{page}"))
    static_dir = _PACKAGE / "static"
    routes.append(Mount(STATIC, app=_StaticFiles(directory=str(static_dir)), name="admin-static"))
    return routes
