"""A fast fake Chat Completions upstream for benchmarks.

It must never be the bottleneck, so it is a raw asyncio Protocol (httptools parser, uvloop) that serves
pre-rendered responses: every response body for a given shape is built once and cached; a request only
pays for the HTTP parse, one ``orjson.loads`` of the request body and a fixed-width id substitution.

Run it as its own process::

    python -m bench.fake_upstream --port 0 --print-port      # prints the bound port on stdout, then serves

Endpoints (any path prefix is accepted, so ``--base-url http://127.0.0.1:P/v1`` works):

- ``POST .../chat/completions``: ``stream: true`` answers SSE ``chat.completion.chunk`` events over
  chunked transfer encoding: optional ``reasoning_content`` chunks, ``chunks`` content chunks, an optional
  tool call whose ``arguments`` are split across chunks, a finish chunk, a usage chunk, ``data: [DONE]``.
  ``stream: false`` answers one ``chat.completion`` with ``usage``.
- ``POST /_config``: JSON object that replaces the server-wide default shape (fields of :class:`Shape`).
- ``GET /_stats``: JSON counters (requests, streams, request body bytes, last request body size) and
  connection gauges: ``open_connections`` (TCP connections open now, idle keep-alive ones included),
  ``active_streams`` (paced streams being written now), their peaks, ``streams_finished`` (paced streams
  sent to the end) and ``streams_abandoned`` (paced streams whose client closed the connection before
  the end). A soak test reads them to prove that aborted clients leave no upstream stream running.

The response shape for one request comes from, in increasing priority: the defaults (command line or
``/_config``), the query string (``?chunks=20&reasoning=5&tool=1&pace_ms=10``), ``x-fake-<field>`` headers.
Fields: ``chunks``, ``reasoning``, ``tool`` (0/1), ``tool_chunks``, ``pace_ms``, ``status`` (answer an
OpenAI-style error with this HTTP status instead), ``cut`` (drop the connection after this many stream
events, no terminal chunk; 0 = never).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl

import httptools
import orjson

_ID_WIDTH = 24
_ID_TEMPLATE = b"chatcmpl-" + b"#" * _ID_WIDTH
# Token-sized pieces, as a real tokenizer streams them; cycled to build the content.
_WORDS = (
    "I",
    " will",
    " start",
    " by",
    " listing",
    " the",
    " repository",
    " to",
    " see",
    " which",
    " files",
    " matter",
    ",",
    " then",
    " run",
    " the",
    " tests",
    ".",
    "\n\n",
    "The",
    " `",
    "src",
    "/",
    "main",
    ".py",
    "`",
    " module",
    " handles",
    " é",
    "—",
    " 🚀",
)
_THOUGHTS = (
    "The",
    " user",
    " wants",
    " me",
    " to",
    " inspect",
    " the",
    " project",
    ";",
    " first",
    " I",
    " should",
    " check",
    " its",
    " layout",
    ".",
)


@dataclass(frozen=True, slots=True)
class Shape:
    """What one response looks like."""

    chunks: int = 100
    reasoning: int = 0
    tool: bool = False
    tool_chunks: int = 8
    pace_ms: float = 0.0
    status: int = 200
    cut: int = 0

    def merged(self, overrides: Mapping[str, str]) -> Shape:
        """A copy with string-valued overrides (query or header values) applied; unknown keys ignored."""
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            raw = overrides.get(f.name)
            if raw is None:
                continue
            if f.type == "bool":
                changes[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif f.type == "float":
                changes[f.name] = float(raw)
            else:
                changes[f.name] = int(raw)
        return dataclasses.replace(self, **changes) if changes else self


@dataclass(slots=True)
class Stats:
    requests: int = 0
    streams: int = 0
    body_bytes: int = 0
    last_body_bytes: int = 0
    errors: int = 0
    open_connections: int = 0
    peak_open_connections: int = 0
    active_streams: int = 0
    peak_active_streams: int = 0
    streams_finished: int = 0
    streams_abandoned: int = 0


@dataclass(frozen=True, slots=True)
class _Rendered:
    head: bytes
    frames: tuple[bytes, ...]  # HTTP-chunked frames, one per SSE event (streams), or the whole body
    joined: bytes


def _chunk_frame(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(obj: Mapping[str, Any] | None) -> bytes:
    return b"data: [DONE]\n\n" if obj is None else b"data: " + orjson.dumps(obj) + b"\n\n"


def _usage(shape: Shape) -> dict[str, Any]:
    completion = shape.chunks + shape.reasoning + (shape.tool_chunks + 2 if shape.tool else 0)
    prompt = 11_873
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 11_520},
        "completion_tokens_details": {"reasoning_tokens": shape.reasoning},
    }


def _tool_arguments() -> str:
    return orjson.dumps({"cmd": "ls -la && git status --short", "workdir": "/work/repo"}).decode()


def _split(text: str, parts: int) -> list[str]:
    parts = max(1, min(parts, len(text)))
    step = -(-len(text) // parts)
    return [text[i : i + step] for i in range(0, len(text), step)]


def render_stream_events(shape: Shape, model: str, tool_name: str, created: int) -> list[bytes]:
    """The SSE events (``data: ...\\n\\n``) of one streamed completion, with the placeholder id."""
    rid = _ID_TEMPLATE.decode()
    base: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _event(
            {
                **base,
                "system_fingerprint": "fp_bench",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
        )

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"reasoning_content": _THOUGHTS[i % len(_THOUGHTS)]}) for i in range(shape.reasoning)]
    events += [chunk({"content": _WORDS[i % len(_WORDS)]}) for i in range(shape.chunks)]
    finish = "stop"
    if shape.tool:
        finish = "tool_calls"
        pieces = _split(_tool_arguments(), shape.tool_chunks)
        first = {
            "index": 0,
            "id": "call_" + "0" * 20,
            "type": "function",
            "function": {"name": tool_name, "arguments": pieces[0]},
        }
        events.append(chunk({"tool_calls": [first]}))
        events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces[1:]]
    events.append(chunk({}, finish))
    events.append(_event({**base, "choices": [], "usage": _usage(shape)}))
    events.append(_event(None))
    return events


def render_completion(shape: Shape, model: str, tool_name: str, created: int) -> bytes:
    """One non-streamed ``chat.completion`` body, with the placeholder id."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(_WORDS[i % len(_WORDS)] for i in range(shape.chunks)),
    }
    if shape.reasoning:
        message["reasoning_content"] = "".join(_THOUGHTS[i % len(_THOUGHTS)] for i in range(shape.reasoning))
    finish = "stop"
    if shape.tool:
        finish = "tool_calls"
        message["tool_calls"] = [
            {
                "id": "call_" + "0" * 20,
                "type": "function",
                "function": {"name": tool_name, "arguments": _tool_arguments()},
            }
        ]
    return orjson.dumps(
        {
            "id": _ID_TEMPLATE.decode(),
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": _usage(shape),
        }
    )


def _error_body(status: int) -> tuple[bytes, bytes]:
    kinds = {
        400: ("invalid_request_error", "context_length_exceeded", "This model's maximum context length is exceeded."),
        401: ("authentication_error", "invalid_api_key", "Incorrect API key provided."),
        429: ("rate_limit_error", "rate_limit_exceeded", "Rate limit reached. Please try again in 1s."),
    }
    etype, code, message = kinds.get(status, ("server_error", "server_error", "The server had an error."))
    extra = b"retry-after: 1\r\n" if status == 429 else b""
    body = orjson.dumps({"error": {"message": message, "type": etype, "param": None, "code": code}})
    return body, extra


_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found", 429: b"Too Many Requests"}


def _head(status: int, ctype: bytes, length: int | None, extra: bytes = b"", keep_alive: bool = True) -> bytes:
    reason = _REASONS.get(status, b"Error")
    size = b"transfer-encoding: chunked\r\n" if length is None else b"content-length: %d\r\n" % length
    conn = b"" if keep_alive else b"connection: close\r\n"
    return b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\n%s%s%s\r\n" % (status, reason, ctype, size, conn, extra)


class FakeUpstream:
    """Shared state of one fake server: default shape, render cache, counters."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.stats = Stats()
        self._cache: dict[tuple[Shape, str, str, bool], _Rendered] = {}
        self._next_id = 0
        self._created = int(time.time())

    def new_id(self) -> bytes:
        self._next_id += 1
        return b"chatcmpl-%0*d" % (_ID_WIDTH, self._next_id)

    def rendered(self, shape: Shape, model: str, tool_name: str, stream: bool) -> _Rendered:
        key = (shape, model, tool_name, stream)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if len(self._cache) > 512:
            self._cache.clear()
        if stream:
            frames = tuple(_chunk_frame(e) for e in render_stream_events(shape, model, tool_name, self._created))
            frames += (b"0\r\n\r\n",)
            head = _head(200, b"text/event-stream", None, b"cache-control: no-cache\r\n")
            rendered = _Rendered(head, frames, b"".join(frames))
        else:
            body = render_completion(shape, model, tool_name, self._created)
            rendered = _Rendered(_head(200, b"application/json", len(body)), (body,), body)
        self._cache[key] = rendered
        return rendered


@dataclass(slots=True)
class _Request:
    method: bytes
    url: bytes
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection; requests are answered strictly in order."""

    def __init__(self, server: FakeUpstream) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._queue: deque[_Request] = deque()
        self._task: asyncio.Task[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()

    # asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        stats = self._server.stats
        stats.open_connections += 1
        stats.peak_open_connections = max(stats.peak_open_connections, stats.open_connections)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._server.stats.open_connections -= 1
        if self._task is not None:
            self._task.cancel()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._write(_head(400, b"text/plain", 0, keep_alive=False))
            self._close()

    # httptools callbacks ------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        request = _Request(
            self._parser.get_method(),
            self._url,
            self._headers,
            b"".join(self._body),
            self._parser.should_keep_alive(),
        )
        if self._task is not None or self._queue:
            self._queue.append(request)
        else:
            self._dispatch(request)

    # handling -----------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _dispatch(self, request: _Request) -> None:
        """Answer synchronously when possible; paced streams run as a task that drains the queue."""
        paced = self._handle(request)
        if paced is not None:
            self._task = asyncio.get_running_loop().create_task(paced)
            self._task.add_done_callback(self._paced_done)

    def _paced_done(self, task: asyncio.Task[None]) -> None:
        self._task = None
        while self._queue and self._task is None and self._transport is not None:
            self._dispatch(self._queue.popleft())

    def _send(self, status: int, body: bytes, keep_alive: bool, extra: bytes = b"") -> None:
        self._write(_head(status, b"application/json", len(body), extra, keep_alive) + body)
        if not keep_alive:
            self._close()

    def _handle(self, request: _Request) -> Any:
        server = self._server
        path, _, query = request.url.partition(b"?")
        if request.method == b"GET" and path == b"/_stats":
            self._send(200, orjson.dumps(dataclasses.asdict(server.stats)), request.keep_alive)
            return None
        if request.method == b"POST" and path == b"/_config":
            try:
                server.shape = Shape(**orjson.loads(request.body))
            except (TypeError, orjson.JSONDecodeError) as exc:
                self._send(400, orjson.dumps({"error": {"message": str(exc)}}), request.keep_alive)
                return None
            self._send(200, orjson.dumps(dataclasses.asdict(server.shape)), request.keep_alive)
            return None
        if request.method != b"POST" or not path.endswith(b"/chat/completions"):
            self._send(404, b'{"error":{"message":"not found","type":"invalid_request_error"}}', request.keep_alive)
            return None

        stats = server.stats
        stats.requests += 1
        stats.body_bytes += len(request.body)
        stats.last_body_bytes = len(request.body)
        try:
            payload = orjson.loads(request.body)
            if not isinstance(payload, dict):
                raise TypeError("body is not an object")
            overrides = {k.decode(): v.decode() for k, v in parse_qsl(query)} if query else {}
            overrides.update({k[7:]: v for k, v in request.headers.items() if k.startswith("x-fake-")})
            shape = server.shape.merged(overrides) if overrides else server.shape
        except (TypeError, ValueError) as exc:
            stats.errors += 1
            body = orjson.dumps({"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}})
            self._send(400, body, request.keep_alive)
            return None
        if shape.status != 200:
            stats.errors += 1
            body, extra = _error_body(shape.status)
            self._send(shape.status, body, request.keep_alive, extra)
            return None

        model = str(payload.get("model") or "fake-model")
        tool_name = _first_tool_name(payload.get("tools"))
        stream = payload.get("stream") is True
        rendered = server.rendered(shape, model, tool_name, stream)
        rid = server.new_id()
        if not stream:
            self._write(rendered.head + rendered.joined.replace(_ID_TEMPLATE, rid, 1))
            if not request.keep_alive:
                self._close()
            return None
        stats.streams += 1
        if shape.pace_ms <= 0 and shape.cut <= 0:
            self._write(rendered.head + rendered.joined.replace(_ID_TEMPLATE, rid))
            if not request.keep_alive:
                self._close()
            return None
        return self._paced(rendered, rid, shape, request.keep_alive)

    async def _paced(self, rendered: _Rendered, rid: bytes, shape: Shape, keep_alive: bool) -> None:
        stats = self._server.stats
        stats.active_streams += 1
        stats.peak_active_streams = max(stats.peak_active_streams, stats.active_streams)
        ended = False  # sent to the end, or cut on purpose (``cut``): not abandoned by the client
        try:
            self._write(rendered.head)
            delay = shape.pace_ms / 1000.0
            loop = asyncio.get_running_loop()
            start = loop.time()
            frames = rendered.frames
            for n, frame in enumerate(frames):
                if self._transport is None:
                    return
                if shape.cut and n >= shape.cut:
                    ended = True
                    self._close()
                    return
                if n and delay > 0 and n < len(frames) - 2:  # the [DONE] event and terminator go out together
                    # Frame n goes out at start + n * delay, like a model generating at a fixed rate:
                    # sleeping `delay` after each write would add this process's own scheduling delays
                    # up, and they grow when the gateway competes with it for the CPU.
                    await asyncio.sleep(max(0.0, start + n * delay - loop.time()))
                await self._writable.wait()
                self._write(frame.replace(_ID_TEMPLATE, rid))
            ended = True
            stats.streams_finished += 1
            if not keep_alive:
                self._close()
        finally:
            stats.active_streams -= 1
            if not ended:
                stats.streams_abandoned += 1


def _first_tool_name(tools: Any) -> str:
    if isinstance(tools, list) and tools and isinstance(tools[0], dict):
        fn = tools[0].get("function")
        name = fn.get("name") if isinstance(fn, dict) else tools[0].get("name")
        if isinstance(name, str) and name:
            return name
    return "exec_command"


async def serve(host: str, port: int, shape: Shape, print_port: bool) -> None:
    server = FakeUpstream(shape)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: _Connection(server), host, port, backlog=4096, reuse_address=True)
    bound = srv.sockets[0].getsockname()[1]
    if print_port:
        sys.stdout.write(f"{bound}\n")
        sys.stdout.flush()
    async with srv:
        await srv.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_upstream", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--print-port", action="store_true", help="print the bound port on stdout")
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--reasoning", type=int, default=0)
    parser.add_argument("--tool", action="store_true")
    parser.add_argument("--tool-chunks", type=int, default=8)
    parser.add_argument("--pace-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    shape = Shape(args.chunks, args.reasoning, args.tool, args.tool_chunks, args.pace_ms)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on CPython/posix
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.host, args.port, shape, args.print_port))


if __name__ == "__main__":
    main()
