"""The only outbound HTTP of mimo2codex: pooled upstream clients, timeouts, exception mapping.

``Transport`` is the seam: :func:`mimo2codex.server.create_app` takes one, tests pass fakes, and the
default :class:`AiohttpTransport` keeps one pooled ``aiohttp.ClientSession`` per provider for the
lifetime of the app. Library exceptions never escape this module: :func:`_mapped` turns them into
:class:`~mimo2codex.errors.UpstreamError` subclasses that name the provider and what timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import aiohttp
from aiohttp.helpers import basicauth_from_netrc, get_env_proxy_for_url, netrc_from_env
from yarl import URL

from mimo2codex import __version__
from mimo2codex.errors import FirstByteTimeout, UpstreamTimeout, UpstreamUnavailable
from mimo2codex.providers.base import Provider


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    first_byte: float = 600.0
    idle: float = 180.0


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    provider: Provider
    #: appended to the provider's base URL, e.g. "/chat/completions"
    path: str
    body: bytes
    stream: bool
    headers: Mapping[str, str] = field(default_factory=dict)


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes:
        """The whole body (bounded by the first-byte and idle timeouts)."""

    def chunks(self, tick: float) -> AsyncIterator[bytes | None]:
        """Body pieces as they arrive; ``None`` every ``tick`` seconds of silence (for keepalives).

        Raises :class:`UpstreamTimeout` when the first byte or the next chunk is overdue.
        """

    def close(self) -> None:
        """Drop the connection (not back to the pool): cancels the upstream's work."""


class Transport(Protocol):
    async def open(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send the request; return once the status line and headers arrived."""

    async def aclose(self) -> None: ...


@contextlib.contextmanager
def _mapped(provider: Provider, phase: str, limit: float, timeouts: Timeouts) -> Iterator[None]:
    """Map aiohttp/OS errors raised while talking to ``provider`` into the gateway's error tree."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise UpstreamTimeout(
            f"upstream '{provider.id}' ({provider.base_url}): connect timeout of {timeouts.connect:g}s exceeded",
            provider=provider.id,
        ) from exc
    except TimeoutError as exc:
        error = FirstByteTimeout if phase == "first byte" else UpstreamTimeout
        raise error(
            f"upstream '{provider.id}' ({provider.base_url}) sent nothing for {limit:g}s ({phase} timeout)",
            provider=provider.id,
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnavailable(
            f"cannot connect to upstream '{provider.id}' at {provider.base_url}: {exc.os_error.strerror or exc}",
            provider=provider.id,
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise UpstreamUnavailable(
            f"connection to upstream '{provider.id}' failed during {phase}: {reason}", provider=provider.id
        ) from exc


_T = TypeVar("_T")

#: uvloop's clock ticks in milliseconds: a timer may run this much before its due time
_CLOCK_SLACK = 0.002


class _Watchdog:
    """One timer for a whole stream, where ``asyncio.timeout()`` around every read would add one per chunk.

    Each :meth:`wait` only records when it becomes overdue; the timer is moved earlier when needed
    but never later: when it fires before the current wait is due (the stream moved on meanwhile), it
    re-arms itself for that due time. A stream that keeps flowing so costs one timer per keepalive
    interval instead of a schedule and a cancel per upstream chunk. An overdue wait is interrupted the
    way ``asyncio.timeout`` does it, by cancelling the waiting task, and turned into ``TimeoutError``
    (aiohttp's ``readany()`` keeps its buffer when cancelled, so no data is lost).
    """

    __slots__ = ("_armed_at", "_due", "_fired", "_handle", "_loop", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = math.inf
        self._due = math.inf
        #: the task inside :meth:`wait`, None between waits
        self._task: asyncio.Task[Any] | None = None
        self._fired = False

    async def wait(self, operation: Coroutine[Any, Any, _T], due: float) -> _T:
        """``await operation``, or ``TimeoutError`` once the loop clock passes ``due``."""
        task = asyncio.current_task()
        assert task is not None
        self._due = due
        if due < self._armed_at:
            self._arm(due)
        self._task = task
        self._fired = False
        cancelling = task.cancelling()
        try:
            return await operation
        except asyncio.CancelledError:
            if self._fired and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            self._task = None

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_at = math.inf

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._alarm)

    def _alarm(self) -> None:
        self._handle = None
        self._armed_at = math.inf
        task = self._task
        if task is None:
            return  # nobody waits: the next wait arms the timer again
        if self._loop.time() + _CLOCK_SLACK < self._due:
            self._arm(self._due)  # this wait began after the timer was set: not due yet
            return
        self._fired = True
        task.cancel()


class AiohttpResponse:
    def __init__(
        self, provider: Provider, response: aiohttp.ClientResponse, timeouts: Timeouts, started: float
    ) -> None:
        self._provider = provider
        self._response = response
        self._timeouts = timeouts
        self._started = started
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        with _mapped(self._provider, "first byte", self._timeouts.first_byte, self._timeouts):
            remaining = self._timeouts.first_byte - (asyncio.get_running_loop().time() - self._started)
            async with asyncio.timeout(max(remaining, 0.001)):
                return await self._response.read()

    async def chunks(self, tick: float) -> AsyncIterator[bytes | None]:
        content = self._response.content
        loop = asyncio.get_running_loop()
        watchdog = _Watchdog(loop)
        # Before the first byte the generous first-byte budget applies, after it the idle one.
        deadline = self._started + self._timeouts.first_byte
        phase = "first byte"
        limit = self._timeouts.first_byte
        try:
            while True:
                try:
                    # Whatever is already buffered costs no wait and no timer: under load, or when an
                    # upstream sends a burst, most reads end here.
                    data = content.read_nowait()
                    if not data and not content.is_eof():
                        data = await watchdog.wait(content.readany(), min(loop.time() + tick, deadline))
                except TimeoutError:
                    if loop.time() >= deadline:
                        raise UpstreamTimeout(
                            f"upstream '{self._provider.id}' sent nothing for {limit:g}s ({phase} timeout)",
                            provider=self._provider.id,
                        ) from None
                    yield None
                    continue
                except (aiohttp.ClientError, OSError) as exc:
                    raise UpstreamUnavailable(
                        f"upstream '{self._provider.id}' connection broke mid-stream: {exc or type(exc).__name__}",
                        provider=self._provider.id,
                    ) from exc
                if not data:
                    return
                deadline = loop.time() + self._timeouts.idle
                phase, limit = "idle", self._timeouts.idle
                yield data
        finally:
            watchdog.disarm()

    def close(self) -> None:
        self._response.close()


@dataclass(frozen=True, slots=True)
class _Pool:
    """A provider's pooled session, and what the environment says about reaching it."""

    session: aiohttp.ClientSession
    proxy: URL | None = None
    proxy_auth: aiohttp.BasicAuth | None = None
    #: ~/.netrc credentials, for a provider without a key whose URL carries none
    auth: aiohttp.BasicAuth | None = None


def _environment_route(
    base_url: str, keyed: bool
) -> tuple[URL | None, aiohttp.BasicAuth | None, aiohttp.BasicAuth | None]:
    """(proxy, proxy auth, netrc auth) for ``base_url``, as aiohttp's ``trust_env`` would find them."""
    url = URL(base_url)
    proxy: URL | None = None
    proxy_auth: aiohttp.BasicAuth | None = None
    auth: aiohttp.BasicAuth | None = None
    with contextlib.suppress(LookupError):
        proxy, proxy_auth = get_env_proxy_for_url(url)
    if not keyed and url.host is not None and url.user is None:
        with contextlib.suppress(LookupError):
            auth = basicauth_from_netrc(netrc_from_env(), url.host)
    return proxy, proxy_auth, auth


class AiohttpTransport:
    """One pooled ``ClientSession`` per provider, created on first use and closed by :meth:`aclose`."""

    def __init__(self, timeouts: Timeouts | None = None, *, trust_env: bool = True) -> None:
        self.timeouts = timeouts or Timeouts()
        self._trust_env = trust_env
        self._pools: dict[str, _Pool] = {}

    def _pool(self, provider: Provider) -> _Pool:
        pool = self._pools.get(provider.id)
        if pool is None:
            session = aiohttp.ClientSession(
                # No per-host cap: every Codex session is one long stream, and a capped pool makes the
                # 257th wait silently (bench/soak.py measured it) while its user sees nothing.
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeouts.connect),
                # The environment is read here, once per provider: aiohttp's own trust_env reads
                # ~/.netrc and the proxy variables in a worker thread on every request, which was
                # almost 40% of a non-streamed request's CPU.
                trust_env=False,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
            if self._trust_env:
                # HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment: users often sit behind one.
                proxy, proxy_auth, auth = _environment_route(provider.base_url, bool(provider.api_key))
                pool = _Pool(session, proxy, proxy_auth, auth)
            else:
                pool = _Pool(session)
            self._pools[provider.id] = pool
        return pool

    async def open(self, request: UpstreamRequest) -> AiohttpResponse:
        provider = request.provider
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if request.stream else "application/json",
            "User-Agent": f"mimo2codex/{__version__}",
            **request.headers,
        }
        if provider.api_key:
            headers["Authorization"] = f"Bearer {provider.api_key.reveal()}"
        pool = self._pool(provider)
        started = asyncio.get_running_loop().time()
        with _mapped(provider, "first byte", self.timeouts.first_byte, self.timeouts):
            async with asyncio.timeout(self.timeouts.first_byte):
                response = await pool.session.post(
                    provider.url(request.path),
                    data=request.body,
                    headers=headers,
                    proxy=pool.proxy,
                    proxy_auth=pool.proxy_auth,
                    auth=pool.auth,
                )
        return AiohttpResponse(provider, response, self.timeouts, started)

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.session.close()
