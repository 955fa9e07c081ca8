"""Acceptance (issue 4, point 1): fault injection with live fake upstreams.

The real gateway serves on a loopback port; the upstream is either the :class:`StrictUpstream` (for
faults it can script: statuses, slow first byte, slow chunks) or :class:`RawUpstream` below, which
writes byte-exact HTTP responses (HTML pages, streams cut mid-JSON, broken chunked framing, junk lines).

Each test asserts what Codex gets (CONTRACT §1.6-1.8) -- the HTTP status and ``error.code`` of a failure
before the stream, or the terminal SSE event and ``response.error.code`` after it, with the whole event
sequence checked by :func:`check_event_sequence` -- and how many requests the upstream received for the
configured ``MIMO2CODEX_MAX_RETRIES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from mimo2codex.gateway import Gateway
from mimo2codex.settings import Settings, load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream
from tests.live import LiveGateway, upstream_settings
from tests.sdk_invariants import check_event_sequence

pytestmark = pytest.mark.live

MODEL = "fake-model"
PROVIDER = "generic"
#: the regex Codex reads a retry delay from in a response.failed message (CONTRACT §1.6)
CODEX_RETRY_HINT = re.compile(r"(?i)try again in\s*(\d+(\.\d+)?)\s*(s|ms|seconds?)")


def request_body(stream: bool = True) -> dict[str, Any]:
    return {"model": MODEL, "stream": stream, "input": "hello"}


# --------------------------------------------------------------------------------------------------
# RawUpstream: byte-exact answers
# --------------------------------------------------------------------------------------------------

#: one step of an answer: wait this many seconds, then write these bytes
Step = tuple[float, bytes]


@dataclass
class RawExchange:
    received_at: float
    head: bytes
    body: bytes
    #: when the gateway closed the connection before the answer was fully written
    peer_closed_at: float | None = None


@dataclass
class RawUpstream:
    """A vendor that answers request *n* with ``script[n]`` (the last entry repeats), byte for byte.

    An answer is a list of steps; after the last one the connection is closed (FIN), whatever the bytes
    promised. ``exchanges`` records each request with its arrival time.
    """

    script: Sequence[Sequence[Step]]
    exchanges: list[RawExchange] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            exchange = RawExchange(time.monotonic(), head, body)
            self.exchanges.append(exchange)
            answer = self.script[min(len(self.exchanges), len(self.script)) - 1]
            for delay, data in answer:
                if delay:
                    try:
                        # Waiting doubles as watching the peer: EOF means the gateway hung up.
                        if await asyncio.wait_for(reader.read(1), delay) == b"":
                            exchange.peer_closed_at = time.monotonic()
                            return
                    except TimeoutError:
                        pass
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[RawUpstream]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="raw-upstream", daemon=True)
        thread.start()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._serve, "127.0.0.1", 0)

        server = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
        self.port = int(server.sockets[0].getsockname()[1])

        async def stop() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


def head(
    status: int = 200,
    reason: str = "OK",
    *,
    content_type: str = "text/event-stream",
    length: int | None = None,
    chunked: bool = False,
    extra: str = "",
) -> bytes:
    """A status line and headers. Neither ``length`` nor ``chunked``: the body runs to the connection's end."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def page(status: int, reason: str, html: str) -> list[Step]:
    body = html.encode()
    return [(0, head(status, reason, content_type="text/html", length=len(body)) + body)]


def frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def chat_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-raw",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def sse(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


HELLO = sse(chat_chunk({"role": "assistant", "content": "Hel"})) + sse(chat_chunk({"content": "lo"}))
USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
FINISH = sse(chat_chunk({}, "stop", usage=USAGE))

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
)
PORTAL_200 = (
    "<!DOCTYPE html><html><head><title>Sign in to the guest Wi-Fi</title></head>"
    "<body><form action='/login'><input name='user'></form></body></html>"
)


# --------------------------------------------------------------------------------------------------
# The client side
# --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    headers: httpx.Headers
    #: the JSON body of a non-SSE answer
    json: Any = None
    #: the SSE events (``data:`` lines), in order
    events: list[dict[str, Any]] = field(default_factory=list)
    keepalives: int = 0

    @property
    def error(self) -> dict[str, Any]:
        """``error`` of a JSON error answer."""
        assert self.status != 200, f"expected an error status, got 200 with {self.json or self.types}"
        error: dict[str, Any] = self.json["error"]
        return error

    @property
    def types(self) -> list[str]:
        return [str(event["type"]) for event in self.events]

    @property
    def terminal(self) -> dict[str, Any]:
        """The terminal response of a well-formed SSE outcome (the sequence is checked first)."""
        assert self.status == 200, f"expected an event stream, got HTTP {self.status}: {self.json}"
        check_event_sequence(self.events)
        response: dict[str, Any] = self.events[-1]["response"]
        return response

    @property
    def text(self) -> str:
        return "".join(e["delta"] for e in self.events if e["type"] == "response.output_text.delta")


def call(base_url: str, *, stream: bool = True, timeout: float = 10.0) -> Outcome:
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("POST", f"{base_url}/responses", json=request_body(stream)) as response,
    ):
        outcome = Outcome(response.status_code, response.headers)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            outcome.json = orjson.loads(response.read())
            return outcome
        for line in response.iter_lines():
            if line.startswith("data: "):
                outcome.events.append(orjson.loads(line[6:]))
            elif line.startswith(":"):
                outcome.keepalives += 1
        return outcome


def settings_for(url: str, *, status_grace: float | None = None, **env: str) -> Settings:
    values = {
        "GENERIC_BASE_URL": url,
        "GENERIC_API_KEY": "sk-fake-upstream",
        "GENERIC_DEFAULT_MODEL": MODEL,
        "MIMO2CODEX_MAX_RETRIES": "0",
        **env,
    }
    settings = load_settings(values)
    return settings if status_grace is None else dataclasses.replace(settings, status_grace=status_grace)


def strict_settings(upstream: StrictUpstream, *, status_grace: float | None = None, **env: str) -> Settings:
    settings = upstream_settings(upstream, model=MODEL, **env)
    return settings if status_grace is None else dataclasses.replace(settings, status_grace=status_grace)


def gateway_of(live: LiveGateway) -> Gateway:
    """The running app's :class:`Gateway` (its lifespan has run once the server started)."""
    app: Starlette = live.server.config.app  # type: ignore[assignment]
    gateway: Gateway = app.state.gateway
    return gateway


def fast_backoff(live: LiveGateway) -> LiveGateway:
    """Shrink the backoff base (not the count, which comes from MIMO2CODEX_MAX_RETRIES) for test speed."""
    gateway = gateway_of(live)
    gateway.retry_policy = dataclasses.replace(gateway.retry_policy, base_delay=0.02)
    return live


def always(reply: Reply) -> Callable[[dict[str, Any], int], Reply]:
    return lambda body, number: reply


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def start_raw(_live_stack: contextlib.ExitStack) -> Callable[..., RawUpstream]:
    def start(*script: Sequence[Step]) -> RawUpstream:
        return _live_stack.enter_context(RawUpstream(script).running())

    return start


StartRaw = Callable[..., RawUpstream]


def assert_failed(outcome: Outcome, code: str) -> dict[str, Any]:
    """A 200 event stream ending in ``response.failed`` with ``code``; returns the error."""
    response = outcome.terminal
    assert outcome.types[-1] == "response.failed", outcome.types
    error: dict[str, Any] = response["error"]
    assert error["code"] == code, error
    return error


# --------------------------------------------------------------------------------------------------
# Connect refused
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_connect_refused_is_retried_then_a_502_naming_the_provider(start_gateway: StartGateway, stream: bool) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    live = fast_backoff(start_gateway(settings_for(url, MIMO2CODEX_MAX_RETRIES="2")))

    outcome = call(live.url, stream=stream)

    assert outcome.status == 502
    assert outcome.error["code"] == "upstream_unavailable"
    assert outcome.error["type"] == "upstream_error"
    assert PROVIDER in outcome.error["message"]
    assert url in outcome.error["message"]
    record = live.wait_for_record(2)
    assert record.upstream_attempts == 3  # 1 + MIMO2CODEX_MAX_RETRIES
    assert (record.status, record.error_code) == (502, "upstream_unavailable")


def test_connect_refused_after_the_stream_committed_fails_the_response(start_gateway: StartGateway) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    live = start_gateway(settings_for(url, status_grace=0.05, MIMO2CODEX_MAX_RETRIES="1", MIMO2CODEX_KEEPALIVE="0.05"))
    gateway = gateway_of(live)
    gateway.retry_policy = dataclasses.replace(gateway.retry_policy, base_delay=0.4)  # outlast the grace

    outcome = call(live.url)

    error = assert_failed(outcome, "upstream_unavailable")
    assert PROVIDER in error["message"]
    assert outcome.types == ["response.created", "response.in_progress", "response.failed"]
    assert outcome.keepalives >= 1
    assert live.wait_for_record(2).upstream_attempts == 2


# --------------------------------------------------------------------------------------------------
# Timeouts: first byte, idle
# --------------------------------------------------------------------------------------------------


def test_slow_first_byte_is_a_504_and_is_not_retried(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    """The upstream got the request and may still be working on it: a retry would repeat the whole wait
    (the default first-byte budget is minutes) and the bill; Codex decides about retrying the turn."""
    upstream = start_upstream(always(Reply.text("late", delay=3)))
    live = start_gateway(strict_settings(upstream, MIMO2CODEX_FIRST_BYTE_TIMEOUT="0.5", MIMO2CODEX_MAX_RETRIES="2"))

    started = time.monotonic()
    outcome = call(live.url)
    elapsed = time.monotonic() - started

    assert outcome.status == 504
    assert outcome.error["code"] == "upstream_timeout"
    assert "0.5s" in outcome.error["message"]
    assert "first byte" in outcome.error["message"]
    assert PROVIDER in outcome.error["message"]
    assert 0.5 <= elapsed < 1.5
    assert len(upstream.chat_requests) == 1
    exchange = upstream.wait_peer_closed(2)
    assert exchange is not None
    assert exchange.outcome == "peer_closed"


def test_slow_first_byte_after_the_stream_committed_keeps_alive_then_fails(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream(always(Reply.text("late", delay=3)))
    settings = strict_settings(
        upstream,
        status_grace=0.05,
        MIMO2CODEX_FIRST_BYTE_TIMEOUT="0.6",
        MIMO2CODEX_KEEPALIVE="0.1",
        MIMO2CODEX_MAX_RETRIES="2",
    )
    live = start_gateway(settings)

    outcome = call(live.url)

    error = assert_failed(outcome, "upstream_timeout")
    assert "first byte" in error["message"]
    assert outcome.types == ["response.created", "response.in_progress", "response.failed"]
    assert outcome.keepalives >= 3
    assert len(upstream.chat_requests) == 1


def test_idle_mid_stream_fails_after_the_idle_timeout_with_keepalives_meanwhile(
    start_raw: StartRaw, start_gateway: StartGateway
) -> None:
    raw = start_raw([(0, head() + HELLO), (3.0, FINISH)])
    live = start_gateway(
        settings_for(raw.url, MIMO2CODEX_IDLE_TIMEOUT="0.5", MIMO2CODEX_KEEPALIVE="0.1", MIMO2CODEX_MAX_RETRIES="2")
    )

    started = time.monotonic()
    outcome = call(live.url)
    elapsed = time.monotonic() - started

    error = assert_failed(outcome, "upstream_timeout")
    assert "idle" in error["message"]
    assert "0.5s" in error["message"]
    assert PROVIDER in error["message"]
    assert outcome.text == "Hello"
    assert outcome.keepalives >= 3
    assert 0.5 <= elapsed < 2.0
    assert len(raw.exchanges) == 1  # output was streamed: never retried
    deadline = time.monotonic() + 2
    while raw.exchanges[0].peer_closed_at is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert raw.exchanges[0].peer_closed_at is not None, "the gateway kept the idle upstream connection open"
    assert live.wait_for_record(2).outcome == "failed"


# --------------------------------------------------------------------------------------------------
# 429
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_429_with_retry_after_is_retried_after_that_delay_then_passed_on(
    start_upstream: StartUpstream, start_gateway: StartGateway, stream: bool
) -> None:
    upstream = start_upstream(always(Reply.http_error(429, "Rate limit reached", headers={"Retry-After": "1"})))
    live = start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="1"))

    outcome = call(live.url, stream=stream)

    assert outcome.status == 429
    assert outcome.headers["retry-after"] == "1"  # Codex retries a 429 only with Retry-After (§1.7)
    assert outcome.error["code"] == "rate_limit_exceeded"
    assert outcome.error["type"] == "rate_limit_error"
    assert "Rate limit reached" in outcome.error["message"]
    times = [x.received_at for x in upstream.chat_requests]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95, "Retry-After was not honoured"


def test_429_with_a_long_retry_after_goes_to_codex_at_once(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream(always(Reply.http_error(429, "Slow down", headers={"Retry-After": "60"})))
    live = start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="2"))

    outcome = call(live.url)

    assert outcome.status == 429
    assert outcome.headers["retry-after"] == "60"
    assert outcome.error["code"] == "rate_limit_exceeded"
    assert len(upstream.chat_requests) == 1


@pytest.mark.parametrize("garbage", [None, "1e999", "nan", "-inf", "soon"])
def test_429_without_usable_retry_after_is_retried_then_given_a_retry_after(
    start_upstream: StartUpstream, start_gateway: StartGateway, garbage: str | None
) -> None:
    """Codex gives up at once on a 429 without Retry-After (§1.7): the gateway adds one. An unreadable
    Retry-After ("1e999" parses as an infinite float) counts as none, never as a crash or an endless wait."""
    headers = {} if garbage is None else {"Retry-After": garbage}
    upstream = start_upstream(
        always(Reply.http_error(429, "Too many requests", type="rate_limit_error", headers=headers))
    )
    live = fast_backoff(start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="2")))

    outcome = call(live.url)

    assert outcome.status == 429
    assert outcome.headers["retry-after"] == "5"
    assert outcome.error["code"] == "rate_limit_exceeded"
    assert CODEX_RETRY_HINT.search(outcome.error["message"])
    assert len(upstream.chat_requests) == 3


def test_429_then_an_answer_streams_the_answer(start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    upstream = start_upstream([Reply.http_error(429, "busy"), Reply.text("Recovered.")])
    live = fast_backoff(start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="1")))

    outcome = call(live.url)

    assert outcome.terminal["status"] == "completed"
    assert outcome.text == "Recovered."
    assert len(upstream.chat_requests) == 2
    assert upstream.violations == []


def test_429_after_the_stream_committed_tells_codex_when_to_retry(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    reply = Reply.http_error(429, "Rate limit reached", headers={"Retry-After": "7"}, delay=0.3)
    upstream = start_upstream(always(reply))
    live = start_gateway(strict_settings(upstream, status_grace=0.05, MIMO2CODEX_MAX_RETRIES="0"))

    outcome = call(live.url)

    error = assert_failed(outcome, "rate_limit_exceeded")
    hint = CODEX_RETRY_HINT.search(error["message"])
    assert hint is not None, error["message"]
    assert hint.group(1) == "7"
    assert len(upstream.chat_requests) == 1


# --------------------------------------------------------------------------------------------------
# 5xx
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_then_a_502_with_the_vendor_message(
    start_upstream: StartUpstream, start_gateway: StartGateway, status: int, stream: bool
) -> None:
    upstream = start_upstream(always(Reply.http_error(status, "The engine is overloaded", type="server_error")))
    live = fast_backoff(start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="2")))

    outcome = call(live.url, stream=stream)

    assert outcome.status == 502
    assert outcome.error["code"] == "server_error"  # retried by Codex (§1.6, §1.7)
    assert f"HTTP {status}" in outcome.error["message"]
    assert "The engine is overloaded" in outcome.error["message"]
    assert PROVIDER in outcome.error["message"]
    assert len(upstream.chat_requests) == 3
    assert live.wait_for_record(2).upstream_attempts == 3


def test_transient_5xx_are_absorbed(start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    upstream = start_upstream([Reply.http_error(503, "busy"), Reply.http_error(502, "bad"), Reply.text("Fine.")])
    live = fast_backoff(start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="2")))

    outcome = call(live.url)

    assert outcome.terminal["status"] == "completed"
    assert outcome.text == "Fine."
    assert len(upstream.chat_requests) == 3


def test_zero_retries_means_one_request(start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    upstream = start_upstream(always(Reply.http_error(503, "busy")))
    live = start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="0"))

    assert call(live.url).status == 502
    assert len(upstream.chat_requests) == 1


def test_5xx_after_the_stream_committed_is_still_retried_then_fails_the_response(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream(always(Reply.http_error(503, "The engine is overloaded", delay=0.2)))
    live = fast_backoff(start_gateway(strict_settings(upstream, status_grace=0.05, MIMO2CODEX_MAX_RETRIES="1")))

    outcome = call(live.url)

    error = assert_failed(outcome, "server_error")
    assert "The engine is overloaded" in error["message"]
    assert outcome.types == ["response.created", "response.in_progress", "response.failed"]
    assert len(upstream.chat_requests) == 2


# --------------------------------------------------------------------------------------------------
# Garbage: HTML pages, error bodies, cut streams, junk lines
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_html_502_page_is_retried_then_a_502_with_its_title(
    start_raw: StartRaw, start_gateway: StartGateway, stream: bool
) -> None:
    raw = start_raw(page(502, "Bad Gateway", NGINX_502))
    live = fast_backoff(start_gateway(settings_for(raw.url, MIMO2CODEX_MAX_RETRIES="1")))

    outcome = call(live.url, stream=stream)

    assert outcome.status == 502
    assert outcome.error["code"] == "server_error"
    assert "502 Bad Gateway" in outcome.error["message"]
    assert "<" not in outcome.error["message"]
    assert len(raw.exchanges) == 2


def test_html_200_page_on_a_stream_fails_the_response(start_raw: StartRaw, start_gateway: StartGateway) -> None:
    raw = start_raw(page(200, "OK", PORTAL_200))
    live = start_gateway(settings_for(raw.url, MIMO2CODEX_MAX_RETRIES="2"))

    outcome = call(live.url)

    error = assert_failed(outcome, "upstream_unavailable")
    assert PROVIDER in error["message"]
    assert outcome.types == ["response.created", "response.in_progress", "response.failed"]
    assert len(raw.exchanges) == 1


def test_html_200_page_without_stream_is_a_502(start_raw: StartRaw, start_gateway: StartGateway) -> None:
    raw = start_raw(page(200, "OK", PORTAL_200))
    live = start_gateway(settings_for(raw.url, MIMO2CODEX_MAX_RETRIES="2"))

    outcome = call(live.url, stream=False)

    assert outcome.status == 502
    assert outcome.error["code"] == "upstream_unavailable"
    assert "not JSON" in outcome.error["message"]
    assert PROVIDER in outcome.error["message"]
    assert len(raw.exchanges) == 1


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ({"message": "Internal error, please retry", "type": "server_error"}, 502, "server_error"),
        (
            {"message": "This model's maximum context length is 65536 tokens.", "type": "invalid_request_error"},
            400,
            "context_length_exceeded",
        ),
        ({"message": "Rate limit reached for requests", "type": "rate_limit_error"}, 429, "rate_limit_exceeded"),
    ],
    ids=["generic", "context", "rate-limit"],
)
def test_200_with_an_error_body_is_classified_like_the_error_it_is(
    start_raw: StartRaw, start_gateway: StartGateway, error: dict[str, Any], status: int, code: str
) -> None:
    body = orjson.dumps({"error": error})
    raw = start_raw([(0, head(content_type="application/json", length=len(body)) + body)])
    live = start_gateway(settings_for(raw.url, MIMO2CODEX_MAX_RETRIES="2"))

    outcome = call(live.url, stream=False)

    assert outcome.status == status, outcome.json
    assert outcome.error["code"] == code
    assert error["message"] in outcome.error["message"]
    assert "HTTP 502" not in outcome.error["message"]  # the upstream said 200
    if status == 429:
        assert outcome.headers["retry-after"] == "5"
    assert len(raw.exchanges) == 1


@pytest.mark.parametrize("framing", ["eof", "chunked"])
def test_stream_cut_mid_json_fails_the_response(start_raw: StartRaw, start_gateway: StartGateway, framing: str) -> None:
    cut = b'data: {"id":"chatcmpl-raw","choices":[{"index":0,"delta":{"content":"wor'
    if framing == "chunked":
        # The last chunk never ends: a broken transfer, not a clean end of body. The text goes out
        # first: bytes still unread when a transfer breaks are dropped by aiohttp (harmless, the
        # response fails and Codex discards a failed attempt's output), so "Hello" must be read before.
        broken = f"{len(cut) + 40:x}\r\n".encode() + cut
        answer = [(0, head(chunked=True) + frame(HELLO)), (0.1, broken)]
    else:  # the body runs to the connection's end: a clean EOF in the middle of an event
        answer = [(0, head() + HELLO + cut)]
    raw = start_raw(answer)
    live = start_gateway(settings_for(raw.url, MIMO2CODEX_MAX_RETRIES="2"))

    outcome = call(live.url)

    error = assert_failed(outcome, "upstream_unavailable")
    assert PROVIDER in error["message"]
    assert outcome.text == "Hello"
    assert len(raw.exchanges) == 1


def test_stream_without_done_but_with_finish_reason_completes(start_raw: StartRaw, start_gateway: StartGateway) -> None:
    raw = start_raw([(0, head() + HELLO + FINISH)])
    live = start_gateway(settings_for(raw.url))

    outcome = call(live.url)

    response = outcome.terminal
    assert response["status"] == "completed"
    assert outcome.text == "Hello"
    assert response["usage"]["total_tokens"] == 11


def test_stream_without_done_whose_last_event_lacks_its_blank_line_completes(
    start_raw: StartRaw, start_gateway: StartGateway
) -> None:
    raw = start_raw([(0, head() + HELLO + FINISH.rstrip(b"\n"))])
    live = start_gateway(settings_for(raw.url))

    outcome = call(live.url)

    assert outcome.terminal["status"] == "completed"
    assert outcome.terminal["usage"]["total_tokens"] == 11


def test_stream_without_done_and_without_finish_reason_fails(start_raw: StartRaw, start_gateway: StartGateway) -> None:
    raw = start_raw([(0, head() + HELLO)])
    live = start_gateway(settings_for(raw.url, MIMO2CODEX_MAX_RETRIES="2"))

    outcome = call(live.url)

    error = assert_failed(outcome, "upstream_unavailable")
    assert "finish" in error["message"]
    assert outcome.text == "Hello"
    assert len(raw.exchanges) == 1


def test_non_json_lines_in_a_stream_are_skipped(start_raw: StartRaw, start_gateway: StartGateway) -> None:
    junk = (
        b": OPENROUTER PROCESSING\n\n"
        b"data: keep-alive\n\n"
        b"data: \n\n"
        b"data: [1, 2]\n\n"
        b"data: null\n\n"
        b"event: ping\ndata: {}\n\n"
        b"this line is not SSE at all\n\n"
        b'data: {"unterminated": \n\n'
    )
    raw = start_raw([(0, head() + junk + HELLO + junk + FINISH + junk + b"data: [DONE]\n\n")])
    live = start_gateway(settings_for(raw.url))

    outcome = call(live.url)

    assert outcome.terminal["status"] == "completed"
    assert outcome.text == "Hello"
    assert outcome.terminal["output"][0]["content"][0]["text"] == "Hello"


def test_error_event_mid_stream_fails_with_the_classified_code(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    event = {"message": "Rate limit reached, please try again in 20s", "type": "rate_limit_error", "code": 429}
    upstream = start_upstream(always(Reply.text("Hello there", drop_after=2, error_event=event)))
    live = start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="2"))

    outcome = call(live.url)

    error = assert_failed(outcome, "rate_limit_exceeded")
    hint = CODEX_RETRY_HINT.search(error["message"])
    assert hint is not None
    assert hint.group(1) == "20"
    assert len(upstream.chat_requests) == 1


# --------------------------------------------------------------------------------------------------
# A client that leaves during the retry backoff stops the retries
# --------------------------------------------------------------------------------------------------

BACKOFF = Reply.http_error(503, "busy", headers={"Retry-After": "1"})


def test_client_leaving_during_backoff_after_the_stream_committed_stops_the_retries(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream(always(BACKOFF))
    settings = strict_settings(upstream, status_grace=0.05, MIMO2CODEX_MAX_RETRIES="2", MIMO2CODEX_KEEPALIVE="0.05")
    live = start_gateway(settings)

    with (
        httpx.Client(timeout=5) as client,
        client.stream("POST", f"{live.url}/responses", json=request_body()) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith(":"):  # a keepalive: the gateway is waiting out the Retry-After
                break
    assert len(upstream.chat_requests) == 1
    time.sleep(1.5)  # past the 1 s backoff
    assert len(upstream.chat_requests) == 1, "the gateway retried for a client that had left"
    assert live.wait_for_record(2).outcome == "cancelled"
    assert live.wait_for_record(2).outcome == "cancelled"


def test_client_leaving_during_backoff_before_the_answer_started_stops_the_retries(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream(always(BACKOFF))
    live = start_gateway(strict_settings(upstream, MIMO2CODEX_MAX_RETRIES="2"))
    assert gateway_of(live).settings.status_grace > 1  # the client leaves inside it

    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{live.url}/responses", json=request_body())
    assert len(upstream.chat_requests) == 1
    time.sleep(1.5)  # past the 1 s backoff
    assert len(upstream.chat_requests) == 1, "the gateway retried for a client that had left"
    assert live.wait_for_record(2).outcome == "cancelled"
