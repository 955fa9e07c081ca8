"""The admin console as the app factory wires it: its routes, its guard, its lifespan part.

>>> from mimo2codex.settings import load_settings
>>> console = AdminConsole(load_settings({"GENERIC_BASE_URL": "http://127.0.0.1:9/v1", "GENERIC_API_KEY": "k"}), env={})
>>> console.access.needs_token
False

``server.create_app`` adds :meth:`AdminConsole.routes` to its routes, :meth:`AdminConsole.guard` to its
middleware (always: ``/v1`` gets the Host and JSON checks even with ``--no-admin``), and enters
:meth:`AdminConsole.running` in its lifespan once the gateway exists.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from mimo2codex.admin import api
from mimo2codex.admin.context import AdminContext, file_stamp
from mimo2codex.admin.events import EventHub
from mimo2codex.admin.pages import page_routes
from mimo2codex.admin.runtime import LiveConfig, providers_path
from mimo2codex.admin.security import AdminAccess, BrowserGuardMiddleware, HostPolicy
from mimo2codex.admin.watcher import FILE_POLL, STORE_POLL, sync_store, watching
from mimo2codex.gateway import Gateway
from mimo2codex.settings import Settings

log = logging.getLogger("mimo2codex.admin")


def guard(settings: Settings, console: AdminConsole | None) -> Middleware:
    """The browser guard for the whole app (``console`` None: the admin is off, /admin answers 404)."""
    return Middleware(
        BrowserGuardMiddleware,
        policy=HostPolicy.for_bind(settings.host),
        access=console.access if console is not None else None,
        drain_limit=settings.max_body_bytes,
    )


class AdminConsole:
    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        file_poll: float = FILE_POLL,
        store_poll: float = STORE_POLL,
    ) -> None:
        env = os.environ if env is None else env
        self.ctx = AdminContext(LiveConfig(settings, env), EventHub(), env, clock)
        self.access = AdminAccess.build(settings.host, settings.auth_tokens, settings.admin_token)
        self.file_poll = file_poll
        self.store_poll = store_poll

    def routes(self) -> list[BaseRoute]:
        return [api.mount(self.ctx), *page_routes()]

    @contextlib.asynccontextmanager
    async def running(self, gateway: Gateway) -> AsyncIterator[None]:
        """Attach to the gateway, take the shared settings, and watch for changes until shutdown."""
        ctx = self.ctx
        ctx.attach(gateway, gateway.store)
        ctx.file_stamp = file_stamp(providers_path(ctx.live.current))
        try:
            await sync_store(ctx)
        except Exception:  # a store that cannot be read yet must not stop the gateway from starting
            log.warning("admin: the shared settings could not be read at startup", exc_info=True)
        async with watching(ctx, self.file_poll, self.store_poll):
            yield
