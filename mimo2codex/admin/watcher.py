"""Keeping a running gateway in step with what others change: providers.json edited by hand, and the
toggles, storage policy, custom models and aliases another instance wrote to the shared database.

One lifespan task: every :data:`FILE_POLL` seconds it compares the providers file's (mtime, size) with
the one loaded (a ``stat``: cheap) and reloads on a change; every :data:`STORE_POLL` seconds it reads the
store's small settings, models and aliases tables on a worker thread. A file that does not load is
reported (log warning, ``reload`` in ``health``) and the working configuration stays.

A failing poll (a corrupt or locked database, a bug) is logged once per problem, and once more when
the polls succeed again (:class:`Trouble`, the store writer's rule): a poll every second must not write
a warning, let alone a traceback, every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool

from mimo2codex.admin.context import AdminContext, TunableStore, database_error, file_stamp, tunable
from mimo2codex.admin.models import alias_json, model_json
from mimo2codex.admin.runtime import providers_path
from mimo2codex.admin.stored_toggles import Resolved, resolve
from mimo2codex.admin.toggles import BY_NAME, POLICY, apply_policy
from mimo2codex.errors import ConfigError
from mimo2codex.settings import Settings

log = logging.getLogger("mimo2codex.admin")

FILE_POLL = 1.0
STORE_POLL = 2.0


async def check_file(ctx: AdminContext) -> bool:
    """Reload when providers.json changed on disk since it was loaded; True when it reloaded."""
    if file_stamp(providers_path(ctx.live.current)) == ctx.file_stamp:
        return False
    async with ctx.edit_lock:
        stamp = file_stamp(providers_path(ctx.live.current))
        if stamp == ctx.file_stamp:
            return False  # an admin edit, recorded while we waited for the lock
        ctx.file_stamp = stamp
        try:
            settings = await ctx.call(ctx.live.build)
        except ConfigError as exc:
            ctx.refused("file", str(exc))
            log.warning("providers.json changed on disk but does not load; keeping the running configuration: %s", exc)
            return False
        ctx.apply(settings, "file")
    return True


def _policy_now(store: TunableStore) -> dict[str, Any]:
    return {
        "log_bodies": store.policy.mode,
        "log_body_max": store.policy.max_bytes,
        "log_retention_days": store.retention_days,
        "log_max_mb": store.max_mb,
    }


async def sync_store(ctx: AdminContext) -> bool:
    """Follow the shared tables (toggles, policy, models, aliases); True when routing changed."""
    store = ctx.store
    if store is None:
        return False
    # Not ctx.call: it logs every failure, right for a request, a flood for a poll (watch() reports).
    stored = await run_in_threadpool(store.settings)
    models = [model_json(row) for row in await run_in_threadpool(store.models)]
    aliases = [alias_json(row) for row in await run_in_threadpool(store.aliases)]
    toggles = {name: stored[name] for name in BY_NAME if name in stored and ctx.live.lock(name) is None}
    # a stored value already ignored (and warned about) is tried again only when it or the providers change
    toggles = {name: value for name, value in toggles.items() if name not in ctx.ignored or ctx.ignored[name] != value}
    tuned = tunable(store)
    if tuned is not None:
        now = _policy_now(tuned)
        wanted = {n: stored[n] for n in POLICY if n in stored and ctx.live.lock(n) is None and stored[n] != now[n]}
        apply_policy(ctx, wanted)
    if toggles == ctx.live.toggles and (models, aliases) == ctx.catalog:
        return False
    async with ctx.edit_lock:
        try:
            # a stored toggle that does not load here (e.g. a provider this instance lacks a key for) is
            # left out, the others apply
            resolved = await ctx.call(lambda: resolve(lambda wanted: ctx.live.build(toggles=wanted), toggles))
        except ConfigError as exc:  # the configuration does not load even without the stored toggles
            ctx.refused("store", str(exc))
            settings = ctx.live.current
            toggles = ctx.live.toggles
        else:
            settings, toggles = _ignoring(ctx, resolved), resolved.applied
        ctx.live.toggles = toggles
        ctx.catalog = (models, aliases)
        ctx.apply(settings, "store")
    return True


def _ignoring(ctx: AdminContext, resolved: Resolved) -> Settings:
    """``resolved.settings`` with a warning for each stored toggle left out, logged once."""
    warnings = resolved.warnings()
    for (name, (value, _)), text in zip(resolved.ignored.items(), warnings, strict=True):
        ctx.ignored[name] = value
        if text not in ctx.live.startup.warnings:  # a starting gateway said it already (its banner)
            log.warning("%s", text)
    if not warnings:
        return resolved.settings
    return replace(resolved.settings, warnings=tuple(dict.fromkeys([*resolved.settings.warnings, *warnings])))


class Trouble:
    """One polled step's failures: each problem warned about once, and its end once."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.problem: str | None = None
        self._warned: set[str] = set()

    def failed(self, exc: Exception) -> None:
        first = (str(exc) or type(exc).__name__).splitlines()[0]
        problem = f"{type(exc).__name__}: {first}"[:200]
        self.problem = problem
        if problem in self._warned:
            return
        self._warned.add(problem)
        # a database or disk problem is the environment's: its message says it all; anything else is a bug,
        # whose traceback is worth one log entry
        trace = None if database_error(exc) else exc
        log.warning(
            "admin watcher: %s failed (%s); retrying quietly until it works", self.step, problem, exc_info=trace
        )

    def succeeded(self) -> None:
        if self.problem is not None:
            log.warning("admin watcher: %s recovered from %s", self.step, self.problem)
            self.problem = None
            self._warned.clear()


async def watch(ctx: AdminContext, file_poll: float = FILE_POLL, store_poll: float = STORE_POLL) -> None:
    """The lifespan task; ends only when cancelled."""
    since_store = 0.0
    file_trouble, store_trouble = Trouble("the providers.json check"), Trouble("reading the shared store tables")
    while True:
        await asyncio.sleep(file_poll)
        since_store += file_poll
        # the watcher must outlive any one failure (a locked or corrupt database, a racing edit)
        try:
            await check_file(ctx)
        except Exception as exc:
            file_trouble.failed(exc)
        else:
            file_trouble.succeeded()
        if since_store >= store_poll:
            since_store = 0.0
            try:
                await sync_store(ctx)
            except Exception as exc:
                store_trouble.failed(exc)
            else:
                store_trouble.succeeded()


@contextlib.asynccontextmanager
async def watching(ctx: AdminContext, file_poll: float = FILE_POLL, store_poll: float = STORE_POLL) -> Any:
    task = asyncio.create_task(watch(ctx, file_poll, store_poll))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
