"""Load generator: a real Codex request at a fixed concurrency, for a bounded time or count.

It runs in its own process with uvloop and one pooled aiohttp session, and reads streams as raw bytes
with a cheap line split. It stays as cheap as it can because on a small machine it shares the CPUs with
the server it measures.

Two targets:

- ``responses`` (the gateway): ``POST {base}/v1/responses`` with the Codex fixture body and Codex's
  headers. A stream counts as complete only if its last event is ``response.completed``; a non-stream
  answer must be a Response whose ``status`` is ``completed``.
- ``direct`` (the baseline): ``POST {base}/v1/chat/completions`` straight at the upstream, with the
  equivalent Chat request (see :func:`bench.clients.chat_request`). A stream must end with
  ``data: [DONE]``; a non-stream answer must have ``choices``.

Usage::

    python -m bench.load --base http://127.0.0.1:8788 --target responses --stream -c 64 --duration 10
    python -m bench.load --base http://127.0.0.1:9000 --target direct --no-stream -c 16 --requests 2000 --json

It prints a summary (``--json`` prints one JSON object instead): requests/s, latency p50/p90/p99,
time to the first ``data:`` line and to the first token (streams), errors by kind, and the number of
streams that completed. "First token" is the first event that carries model output: a Responses
``*.delta`` event, or a Chat chunk with ``content``/``reasoning_content``/``tool_calls`` text; it is the
latency a user feels, while the first ``data:`` line of a gateway may be an immediate ``response.created``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.clients import FIXTURE, chat_request

#: the headers of the same Codex session's first request (the tool-task capture kept no headers file)
HEADERS_FIXTURE = FIXTURE.with_name("turn1-plain-prompt.headers.txt")
#: ``--marks``: lines printed when the measured run starts and ends (after the warmup)
MARK_START = "#measuring"
MARK_END = "#measured"
_SKIP_HEADERS = {"host", "content-length"}


def codex_headers(path: Path = HEADERS_FIXTURE) -> dict[str, str]:
    """The headers Codex CLI sent with the fixture request (minus host and content-length)."""
    headers: dict[str, str] = {}
    if path.exists():  # without the fixtures (a checkout without ../shared): aiohttp's own agent
        for line in path.read_text().splitlines()[1:]:
            name, sep, value = line.partition(": ")
            if sep and name.lower() not in _SKIP_HEADERS:
                headers[name] = value
    headers.setdefault("content-type", "application/json")
    headers.setdefault("accept", "text/event-stream")
    headers.setdefault("authorization", "Bearer bench")
    return headers


def responses_body(stream: bool, fixture: Path = FIXTURE) -> bytes:
    """The fixture Codex request, compact (as Codex sends it: ~39.5 KB), with ``stream`` set."""
    body: dict[str, Any] = json.loads(fixture.read_text())
    body["stream"] = stream
    return orjson.dumps(body)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(min(rank, len(sorted_values))) - 1]


@dataclass(slots=True)
class Outcome:
    ok: bool
    latency: float
    first_event: float | None = None
    first_token: float | None = None
    events: int = 0
    error: str | None = None


@dataclass(slots=True)
class Summary:
    target: str
    stream: bool
    concurrency: int
    requests: int
    ok: int
    elapsed_s: float
    req_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    ttfe_p50_ms: float
    ttfe_p90_ms: float
    ttfe_p99_ms: float
    ttft_p50_ms: float
    ttft_p90_ms: float
    ttft_p99_ms: float
    events_per_stream: float
    all_completed: bool
    errors: dict[str, int] = field(default_factory=dict)
    #: this load generator's own CPU seconds over the measured run (it shares the machine)
    cpu_s: float = 0.0


class _StreamCheck:
    """Incremental SSE reader: first ``data:`` time, event count, and the type of the last event.

    Event type comes from an ``event:`` line when the server sends one, else from the data object's
    ``"type"`` (read by slicing when ``type`` is the first key, which is cheap; parsed otherwise).
    """

    __slots__ = ("buf", "event_name", "events", "first", "first_token", "last_type", "saw_done", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.buf = b""
        self.events = 0
        self.first: float | None = None
        self.first_token: float | None = None
        self.event_name: bytes | None = None
        self.last_type: bytes | None = None
        self.saw_done = False

    def feed(self, chunk: bytes) -> None:
        data = self.buf + chunk if self.buf else chunk
        *lines, self.buf = data.split(b"\n")
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if line.startswith(b"data:"):
                if self.first is None:
                    self.first = time.perf_counter() - self.start
                self.events += 1
                payload = line[5:].lstrip(b" ")
                if payload == b"[DONE]":
                    self.saw_done = True
                    continue
                self.last_type = self.event_name or _data_type(payload)
                if self.first_token is None and _carries_output(self.last_type, payload):
                    self.first_token = time.perf_counter() - self.start
            elif line.startswith(b"event:"):
                self.event_name = line[6:].strip()
            elif not line:
                self.event_name = None


_CHAT_OUTPUT = (b'"content":"', b'"reasoning_content":"', b'"arguments":"')


def _carries_output(kind: bytes | None, payload: bytes) -> bool:
    """Whether an event carries model output (Responses ``*.delta``; Chat delta with non-empty text)."""
    if kind is not None:
        return kind.endswith(b".delta")
    for key in _CHAT_OUTPUT:
        at = payload.find(key)
        if at >= 0 and payload[at + len(key) : at + len(key) + 1] != b'"':
            return True
    return False


def _data_type(payload: bytes) -> bytes | None:
    prefix = b'{"type":"'
    if payload.startswith(prefix):
        end = payload.find(b'"', len(prefix))
        if end > 0:
            return payload[len(prefix) : end]
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind.encode() if isinstance(kind, str) else None


class LoadGenerator:
    def __init__(self, base: str, target: str, stream: bool, timeout_s: float, stagger_s: float = 0.0) -> None:
        #: lane k starts k/concurrency of this later: independent clients rather than a lockstep wave
        self.stagger_s = stagger_s
        base = base.rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        self.target = target
        self.stream = stream
        if target == "responses":
            self.url = f"{base}/v1/responses"
            self.body = responses_body(stream)
            self.headers = codex_headers()
        else:
            self.url = f"{base}/v1/chat/completions"
            self.body = orjson.dumps(chat_request(stream))
            self.headers = {"content-type": "application/json", "authorization": "Bearer bench"}
            if stream:
                self.headers["accept"] = "text/event-stream"
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=10)

    async def one(self, session: aiohttp.ClientSession) -> Outcome:
        start = time.perf_counter()
        try:
            async with session.post(self.url, data=self.body, headers=self.headers, timeout=self.timeout) as resp:
                if resp.status != 200:
                    await resp.read()
                    return Outcome(False, time.perf_counter() - start, error=f"http {resp.status}")
                if not self.stream:
                    return self._check_json(await resp.read(), start)
                check = _StreamCheck(start)
                async for chunk in resp.content.iter_any():
                    check.feed(chunk)
                if check.buf:
                    check.feed(b"\n")
        except (TimeoutError, aiohttp.ClientError) as exc:
            return Outcome(False, time.perf_counter() - start, error=type(exc).__name__)
        latency = time.perf_counter() - start
        if self.target == "responses":
            ok = check.last_type == b"response.completed"
            error = None if ok else f"stream ended with {(check.last_type or b'nothing').decode()}"
        else:
            ok = check.saw_done
            error = None if ok else "stream ended without [DONE]"
        return Outcome(ok, latency, check.first, check.first_token, check.events, error)

    def _check_json(self, raw: bytes, start: float) -> Outcome:
        latency = time.perf_counter() - start
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Outcome(False, latency, error="invalid JSON")
        if not isinstance(obj, dict):
            return Outcome(False, latency, error="not an object")
        if self.target == "responses":
            ok = obj.get("status") == "completed"
            return Outcome(ok, latency, error=None if ok else f"status {obj.get('status')!r}")
        ok = bool(obj.get("choices"))
        return Outcome(ok, latency, error=None if ok else "no choices")

    async def run(
        self, concurrency: int, duration_s: float | None, requests: int | None, warmup: int, marks: bool = False
    ) -> Summary:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
        outcomes: list[Outcome] = []
        async with aiohttp.ClientSession(connector=connector) as session:
            await self._lanes(session, concurrency, None, warmup, [])
            if marks:  # a runner reading our stdout measures the server between the two marks
                print(MARK_START, flush=True)
            start, cpu = time.perf_counter(), time.process_time()
            deadline = None if duration_s is None else start + duration_s
            await self._lanes(session, concurrency, deadline, requests, outcomes)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            if marks:
                print(MARK_END, flush=True)
        summary = self._summarize(concurrency, outcomes, elapsed)
        summary.cpu_s = cpu
        return summary

    async def _lanes(
        self,
        session: aiohttp.ClientSession,
        concurrency: int,
        deadline: float | None,
        count: int | None,
        sink: list[Outcome],
    ) -> None:
        remaining = count

        async def lane(number: int) -> None:
            nonlocal remaining
            if self.stagger_s:
                await asyncio.sleep(self.stagger_s * number / concurrency)
            while True:
                if remaining is not None:
                    if remaining <= 0:
                        return
                    remaining -= 1
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                sink.append(await self.one(session))

        if count == 0:
            return
        await asyncio.gather(*(lane(number) for number in range(concurrency)))

    def _summarize(self, concurrency: int, outcomes: list[Outcome], elapsed: float) -> Summary:
        good = [o for o in outcomes if o.ok]
        lat = sorted(o.latency * 1000 for o in good)
        ttfe = sorted(o.first_event * 1000 for o in good if o.first_event is not None)
        ttft = sorted(o.first_token * 1000 for o in good if o.first_token is not None)
        errors = Counter(o.error or "failed" for o in outcomes if not o.ok)
        return Summary(
            target=self.target,
            stream=self.stream,
            concurrency=concurrency,
            requests=len(outcomes),
            ok=len(good),
            elapsed_s=elapsed,
            req_per_s=len(good) / elapsed if elapsed > 0 else 0.0,
            p50_ms=percentile(lat, 50),
            p90_ms=percentile(lat, 90),
            p99_ms=percentile(lat, 99),
            ttfe_p50_ms=percentile(ttfe, 50),
            ttfe_p90_ms=percentile(ttfe, 90),
            ttfe_p99_ms=percentile(ttfe, 99),
            ttft_p50_ms=percentile(ttft, 50),
            ttft_p90_ms=percentile(ttft, 90),
            ttft_p99_ms=percentile(ttft, 99),
            events_per_stream=(sum(o.events for o in good) / len(good)) if good and self.stream else 0.0,
            all_completed=bool(outcomes) and len(good) == len(outcomes),
            errors=dict(errors),
        )


def format_summary(s: Summary) -> str:
    kind = "stream" if s.stream else "non-stream"
    lines = [
        f"{s.target} {kind} c={s.concurrency}: {s.ok}/{s.requests} ok in {s.elapsed_s:.2f}s = {s.req_per_s:.1f} req/s",
        f"  latency ms   p50 {s.p50_ms:8.2f}  p90 {s.p90_ms:8.2f}  p99 {s.p99_ms:8.2f}",
    ]
    if s.stream:
        lines.append(f"  first data ms p50 {s.ttfe_p50_ms:8.2f}  p90 {s.ttfe_p90_ms:8.2f}  p99 {s.ttfe_p99_ms:8.2f}")
        lines.append(f"  first token ms p50 {s.ttft_p50_ms:7.2f}  p90 {s.ttft_p90_ms:8.2f}  p99 {s.ttft_p99_ms:8.2f}")
        lines.append(f"  events/stream {s.events_per_stream:.1f}; every stream completed: {s.all_completed}")
    if s.errors:
        lines.append("  errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(s.errors.items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="server root, e.g. http://127.0.0.1:8788 (a /v1 suffix is ok)")
    parser.add_argument("--target", choices=("responses", "direct"), default="responses")
    parser.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, help="seconds to run (default 10 unless --requests is given)")
    parser.add_argument("--requests", type=int, help="stop after this many requests")
    parser.add_argument("--warmup", type=int, default=0, help="requests sent first and not counted")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request total timeout, seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        metavar="S",
        help="spread the lanes' starts evenly over S seconds (in the warmup and the measured run)",
    )
    parser.add_argument(
        "--marks", action="store_true", help=f"print {MARK_START} / {MARK_END} when the measured run starts / ends"
    )
    args = parser.parse_args(argv)
    duration = args.duration if args.duration is not None or args.requests is not None else 10.0

    gen = LoadGenerator(args.base, args.target, args.stream, args.timeout, args.stagger)
    try:
        import uvloop

        summary = uvloop.run(gen.run(args.concurrency, duration, args.requests, args.warmup, args.marks))
    except ImportError:  # pragma: no cover - uvloop is a dependency on CPython/posix
        summary = asyncio.run(gen.run(args.concurrency, duration, args.requests, args.warmup, args.marks))
    if args.json:
        print(json.dumps(asdict(summary)))
    else:
        print(format_summary(summary))
    return 0 if summary.all_completed else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
