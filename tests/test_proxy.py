"""Outbound proxies: HTTP(S)_PROXY is honoured by default and ignored with --no-proxy."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import httpx
import pytest

from mimo2codex.banner import proxy_summary
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply
from tests.live import upstream_settings


class ForwardProxy:
    """A minimal HTTP forward proxy: rewrites the absolute-form request line and pipes both ways."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        method, target, version = request_line.split()
        self.requests.append(f"{method} {target}")
        hostport, _, path = target.removeprefix("http://").partition("/")
        host, _, port = hostport.partition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
        up_writer.write(f"{method} /{path} {version}\r\n".encode())
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{running.port}")
        yield running


def _ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/responses", json={"model": "fake-model", "input": "hi"}, timeout=20, trust_env=False)


def test_upstream_requests_go_through_the_proxy(
    proxy: ForwardProxy, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream([Reply.text("via proxy")])
    gateway = start_gateway(upstream_settings(upstream))
    response = _ask(gateway.url)
    assert response.status_code == 200
    assert response.json()["output"][-1]["content"][0]["text"] == "via proxy"
    assert proxy.requests == [f"POST {upstream.url}/chat/completions"]


def test_no_proxy_flag_goes_direct(
    proxy: ForwardProxy, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream([Reply.text("direct")])
    gateway = start_gateway(upstream_settings(upstream, MIMO2CODEX_NO_PROXY="1"))
    assert _ask(gateway.url).status_code == 200
    assert proxy.requests == []


def test_banner_summary_masks_proxy_credentials() -> None:
    settings = load_settings({"GENERIC_BASE_URL": "http://x/v1", "GENERIC_API_KEY": "k", "GENERIC_DEFAULT_MODEL": "m"})
    summary = proxy_summary(settings, {"https": "http://user:pass@proxy.corp:3128", "no": "localhost"})
    assert summary == "https=http://…@proxy.corp:3128, no=localhost"
    off = load_settings(
        {
            "GENERIC_BASE_URL": "http://x/v1",
            "GENERIC_API_KEY": "k",
            "GENERIC_DEFAULT_MODEL": "m",
            "MIMO2CODEX_NO_PROXY": "1",
        }
    )
    assert proxy_summary(off, {"https": "http://proxy:1"}) == "off (--no-proxy): upstreams are reached directly"
    assert proxy_summary(settings, {}) is None
