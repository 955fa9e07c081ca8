"""The live ring: the real gateway app served by uvicorn on a loopback socket, for real clients.

Usage from a plain (sync) test; the gateway runs in a background thread with its own event loop::

    with StrictUpstream([Reply.text("hi")]).running() as upstream:
        with run_gateway(upstream_settings(upstream)) as base_url:   # "http://127.0.0.1:<port>/v1"
            client = openai.OpenAI(base_url=base_url, api_key="x")
            ...

:class:`LiveGateway` is the same thing with handles on the server's loop and its request records
(``records``), for tests that look inside (task counts, request-log outcomes).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import uvicorn

from mimo2codex.request_log import RecordHook, RequestRecord
from mimo2codex.server import create_app
from mimo2codex.settings import Settings, load_settings
from mimo2codex.store import Store
from mimo2codex.upstream import Transport
from tests.fakes.strict_upstream import StrictUpstream

__all__ = ["LiveGateway", "run_gateway", "upstream_settings"]

T = TypeVar("T")

STARTUP_TIMEOUT = 10.0


def upstream_settings(upstream: StrictUpstream, *, model: str = "fake-model", **env: str) -> Settings:
    """Settings for one generic provider pointing at ``upstream`` (gateway retries off unless ``env`` says)."""
    values = {
        "GENERIC_BASE_URL": upstream.url,
        "GENERIC_API_KEY": upstream.api_key,
        "GENERIC_DEFAULT_MODEL": model,
        "MIMO2CODEX_MAX_RETRIES": "0",
        **env,
    }
    return load_settings(values)


class LiveGateway:
    """The gateway on ``127.0.0.1:<ephemeral port>``, served from a background thread.

    ``records`` collects every request-log record (in the server thread; read it after the request
    finished, or poll with :meth:`wait_for_record`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport | None = None,
        record_hooks: Sequence[RecordHook] = (),
        graceful_shutdown: float = 5.0,
        store: Store | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.records: list[RequestRecord] = []
        self._records_changed = threading.Condition()
        app = create_app(
            settings, transport=transport, store=store, env=env, record_hooks=[self._record, *record_hooks]
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            loop="none",  # the loop is ours (below); uvicorn must not install another policy
            http="auto",  # httptools when installed, as in production
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=graceful_shutdown,
        )
        self.server = uvicorn.Server(config)
        self.loop = _new_loop()
        self._thread = threading.Thread(target=self._serve, name="live-gateway", daemon=True)
        self._crash: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL clients are given: ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _record(self, record: RequestRecord) -> None:
        with self._records_changed:
            self.records.append(record)
            self._records_changed.notify_all()

    def wait_for_records(self, count: int, timeout: float = 5.0) -> list[RequestRecord]:
        """Block until ``count`` records were emitted (a stream's record follows its last byte)."""
        with self._records_changed:
            if not self._records_changed.wait_for(lambda: len(self.records) >= count, timeout):
                raise AssertionError(f"the gateway emitted {len(self.records)} request records, expected {count}")
            return list(self.records)

    def wait_for_record(self, timeout: float) -> RequestRecord:
        """Block until at least one record was emitted; the first one."""
        with self._records_changed:
            if not self._records_changed.wait_for(lambda: bool(self.records), timeout):
                raise AssertionError(f"the gateway emitted no request record within {timeout:g}s")
            return self.records[0]

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        except BaseException as exc:  # SystemExit when the port cannot be bound, or a bug
            self._crash = exc
        finally:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the live gateway did not start: {self._crash!r}")
            if time.monotonic() > deadline:
                self.server.should_exit = True
                raise RuntimeError(f"the live gateway did not start within {STARTUP_TIMEOUT:g}s")
            time.sleep(0.005)
        self.port = int(self.server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            raise RuntimeError("the live gateway did not shut down within 15 s")
        if self._crash is not None:
            raise RuntimeError("the live gateway crashed") from self._crash

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` in the gateway's loop and wait for its result (e.g. to count its tasks)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def task_count(self) -> int:
        """Tasks alive in the gateway's loop, not counting the one asking."""

        async def count() -> int:
            return len(asyncio.all_tasks()) - 1

        return self.call(count())

    def __enter__(self) -> LiveGateway:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed, as ``mimo2codex`` (uvicorn ``loop="auto"``) runs in production."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@contextlib.contextmanager
def run_gateway(
    settings: Settings,
    *,
    transport: Transport | None = None,
    record_hooks: Sequence[RecordHook] = (),
) -> Iterator[str]:
    """Serve the gateway for the duration of the block; yields its base URL ``http://127.0.0.1:<port>/v1``."""
    with LiveGateway(settings, transport=transport, record_hooks=record_hooks) as gateway:
        yield gateway.url
