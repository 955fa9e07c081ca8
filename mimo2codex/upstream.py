"""The only outbound HTTP of mimo2codex: pooled upstream clients, timeouts, exception mapping.

``Transport`` is the seam: :func:`mimo2codex.server.create_app` takes one, tests pass fakes, and the
default :class:`AiohttpTransport` keeps one pooled ``aiohttp.ClientSession`` per provider for the
lifetime of the app. Library exceptions never escape this module: :func:`_mapped` turns them into
:class:`~mimo2codex.errors.UpstreamError` subclasses that name the provider and what timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

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
            remaining = self._timeouts.first_byte - (time.monotonic() - self._started)
            async with asyncio.timeout(max(remaining, 0.001)):
                return await self._response.read()

    async def chunks(self, tick: float) -> AsyncIterator[bytes | None]:
        content = self._response.content
        loop = asyncio.get_running_loop()
        # Before the first byte the generous first-byte budget applies, after it the idle one.
        deadline = self._started + self._timeouts.first_byte
        phase = "first byte"
        limit = self._timeouts.first_byte
        while True:
            now = loop.time()
            wait = min(tick, max(deadline - time.monotonic(), 0.0))
            try:
                # Cancelling readany() while it waits leaves the buffer intact, so a tick can
                # interrupt it without losing data (aiohttp StreamReader keeps unread bytes).
                async with asyncio.timeout_at(now + wait):
                    data = await content.readany()
            except TimeoutError:
                if time.monotonic() >= deadline:
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
            deadline = time.monotonic() + self._timeouts.idle
            phase, limit = "idle", self._timeouts.idle
            yield data

    def close(self) -> None:
        self._response.close()


class AiohttpTransport:
    """One pooled ``ClientSession`` per provider, created on first use and closed by :meth:`aclose`."""

    def __init__(self, timeouts: Timeouts | None = None, *, trust_env: bool = True) -> None:
        self.timeouts = timeouts or Timeouts()
        self._trust_env = trust_env
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def _session(self, provider: Provider) -> aiohttp.ClientSession:
        session = self._sessions.get(provider.id)
        if session is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=256, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeouts.connect),
                # HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment: users often sit behind one.
                trust_env=self._trust_env,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[provider.id] = session
        return session

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
        started = time.monotonic()
        with _mapped(provider, "first byte", self.timeouts.first_byte, self.timeouts):
            async with asyncio.timeout(self.timeouts.first_byte):
                response = await self._session(provider).post(
                    provider.url(request.path), data=request.body, headers=headers
                )
        return AiohttpResponse(provider, response, self.timeouts, started)

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()
