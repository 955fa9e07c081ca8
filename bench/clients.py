"""Which async HTTP client costs the gateway less CPU as its *upstream* client: aiohttp or httpx?

Each measurement runs in its own process (one client library per process, uvloop, one pooled client)
against ``bench.fake_upstream`` in another process, and reports the client process's CPU time per request
(``time.process_time``) and the wall time. Streams are read the way a gateway reads them: bytes in, SSE
lines split out, ``data:`` events counted and checked (a stream that misses events or ``[DONE]`` is an error).

Run the whole comparison (starts its own fake upstream; ~3 minutes)::

    python -m bench.clients                       # prints a table; --out FILE also writes it as markdown
    python -m bench.clients --rounds 1 --requests 300    # quick look

One worker by hand (against an upstream you started)::

    python -m bench.clients worker --variant aiohttp-any --port 8000 --mode stream --requests 2000 --concurrency 16

Variants: ``aiohttp-any`` (``resp.content.iter_any()`` + line split), ``aiohttp-lines`` (``async for line in
resp.content``), ``httpx-bytes`` (``aiter_bytes()`` + line split), ``httpx-lines`` (``aiter_lines()``);
non-stream requests use ``await resp.read()`` / ``response.content`` whatever the variant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

FIXTURE = Path("/work/shared/fixtures/codex-cli-0.169.0/turn1-tool-task.request.json")
VARIANTS = ("aiohttp-any", "aiohttp-lines", "httpx-bytes", "httpx-lines")
HEADERS = {"content-type": "application/json", "authorization": "Bearer bench", "accept": "text/event-stream"}


def chat_request(stream: bool, fixture: Path = FIXTURE) -> dict[str, Any]:
    """The Chat request a gateway would send for the fixture's Codex turn, padded to the fixture's size.

    Messages keep the fixture's texts (developer -> system), namespaced tools are flattened to
    ``namespace__name`` functions; the last user message is padded so the body is as big as the Codex
    request (~46 KB), since the translated request of a real turn is about that size.
    """
    source: dict[str, Any] = json.loads(fixture.read_text())
    messages = [
        {
            "role": "system" if item["role"] == "developer" else item["role"],
            "content": "\n".join(p.get("text", "") for p in item.get("content", [])),
        }
        for item in source.get("input", [])
        if item.get("type") == "message"
    ]
    tools: list[dict[str, Any]] = []
    for tool in source.get("tools", []):
        subs = tool.get("tools", []) if tool.get("type") == "namespace" else [tool]
        for sub in subs:
            if sub.get("type") != "function":
                continue
            name = f"{tool['name']}__{sub['name']}" if sub is not tool else sub["name"]
            fn = {"name": name, "description": sub.get("description", ""), "parameters": sub.get("parameters")}
            tools.append({"type": "function", "function": fn})
    body: dict[str, Any] = {"model": source.get("model", "mimo-v2.5-pro"), "messages": messages, "tools": tools}
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    missing = fixture.stat().st_size - len(orjson.dumps(body))
    if missing > 0 and messages:
        filler = messages[0]["content"] or "x"
        messages[-1]["content"] += "\n" + (filler * (missing // len(filler) + 1))[: max(0, missing - 1)]
    return body


def request_body(stream: bool) -> bytes:
    return orjson.dumps(chat_request(stream))


@dataclass(slots=True)
class WorkerResult:
    variant: str
    mode: str
    requests: int
    concurrency: int
    cpu_ms_per_req: float
    wall_s: float
    req_per_s: float
    events: int
    errors: int


class _Counter:
    """Sequence of SSE events seen in one stream: split bytes into lines, count ``data:`` lines."""

    __slots__ = ("buf", "done", "events")

    def __init__(self) -> None:
        self.buf = b""
        self.events = 0
        self.done = False

    def feed(self, chunk: bytes) -> None:
        data = self.buf + chunk if self.buf else chunk
        *lines, self.buf = data.split(b"\n")
        for line in lines:
            self.line(line)

    def line(self, line: bytes | str) -> None:
        if isinstance(line, str):
            line = line.encode()
        if line.startswith(b"data: "):
            self.events += 1
            if line.startswith(b"data: [DONE]"):
                self.done = True


Fetch = Callable[[bool], Awaitable[int]]  # (stream) -> events seen, raises on failure


@contextlib.asynccontextmanager
async def _aiohttp_client(variant: str, url: str, body: bytes) -> AsyncIterator[Fetch]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=100, limit_per_host=100)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def fetch(stream: bool) -> int:
            async with session.post(url, data=body, headers=HEADERS) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"status {resp.status}")
                if not stream:
                    return 1 if await resp.read() else 0
                counter = _Counter()
                if variant == "aiohttp-lines":
                    async for line in resp.content:
                        counter.line(line)
                else:
                    async for chunk in resp.content.iter_any():
                        counter.feed(chunk)
                if not counter.done:
                    raise RuntimeError("stream ended without [DONE]")
                return counter.events

        yield fetch


@contextlib.asynccontextmanager
async def _httpx_client(variant: str, url: str, body: bytes) -> AsyncIterator[Fetch]:
    import httpx

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    timeout = httpx.Timeout(60.0, connect=10.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def fetch(stream: bool) -> int:
            if not stream:
                resp = await client.post(url, content=body, headers=HEADERS)
                if resp.status_code != 200:
                    raise RuntimeError(f"status {resp.status_code}")
                return 1 if resp.content else 0
            async with client.stream("POST", url, content=body, headers=HEADERS) as resp:
                if resp.status_code != 200:
                    raise RuntimeError(f"status {resp.status_code}")
                counter = _Counter()
                if variant == "httpx-lines":
                    async for line in resp.aiter_lines():
                        counter.line(line)
                else:
                    async for chunk in resp.aiter_bytes():
                        counter.feed(chunk)
                if not counter.done:
                    raise RuntimeError("stream ended without [DONE]")
                return counter.events

        yield fetch


async def run_worker(
    variant: str, url: str, mode: str, requests: int, concurrency: int, warmup: int, expect_events: int
) -> WorkerResult:
    stream = mode == "stream"
    body = request_body(stream)
    factory = _aiohttp_client if variant.startswith("aiohttp") else _httpx_client
    events = 0
    errors = 0
    async with factory(variant, url, body) as fetch:

        async def batch(total: int) -> None:
            nonlocal events, errors
            remaining = total

            async def lane() -> None:
                nonlocal remaining, events, errors
                while remaining > 0:
                    remaining -= 1
                    try:
                        seen = await fetch(stream)
                    except Exception as exc:  # a benchmark counts failures, it does not stop on them
                        errors += 1
                        print(f"error: {exc!r}", file=sys.stderr)
                        continue
                    events += seen
                    if stream and expect_events and seen != expect_events:
                        errors += 1

            await asyncio.gather(*(lane() for _ in range(concurrency)))

        await batch(warmup)
        events = errors = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await batch(requests)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return WorkerResult(
        variant, mode, requests, concurrency, cpu * 1000 / requests, wall, requests / wall, events, errors
    )


# --- driver ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    mode: str  # "stream" | "json"
    requests: int
    concurrency: int
    pace_ms: float = 0.0


def _configs(requests: int) -> list[Config]:
    return [
        Config("json 46KB body, c=1", "json", requests, 1),
        Config("json 46KB body, c=16", "json", requests, 16),
        Config("stream 100 chunks, c=1", "stream", requests, 1),
        Config("stream 100 chunks, c=16", "stream", requests, 16),
        Config("stream 100 chunks paced 2ms, c=64", "stream", max(64, requests // 3), 64, 2.0),
    ]


def _start_upstream() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_upstream", "--port", "0", "--print-port"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"fake upstream did not report a port: {line!r}")
    return proc, int(line)


def _set_shape(port: int, shape: dict[str, Any]) -> None:
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}/_config", data=orjson.dumps(shape), method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def _run_one(variant: str, port: int, cfg: Config) -> WorkerResult:
    cmd = [
        sys.executable,
        "-m",
        "bench.clients",
        "worker",
        "--variant",
        variant,
        "--port",
        str(port),
        "--mode",
        cfg.mode,
        "--requests",
        str(cfg.requests),
        "--concurrency",
        str(cfg.concurrency),
        "--expect-events",
        "104" if cfg.mode == "stream" else "0",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    return WorkerResult(**json.loads(out.stdout.strip().splitlines()[-1]))


def compare(rounds: int, requests: int, variants: list[str], out: Path | None) -> str:
    proc, port = _start_upstream()
    rows: list[str] = []
    try:
        for cfg in _configs(requests):
            _set_shape(port, {"chunks": 100, "pace_ms": cfg.pace_ms})
            names = variants if cfg.mode == "stream" else sorted({v.split("-")[0] for v in variants})
            results: dict[str, list[WorkerResult]] = {n: [] for n in names}
            for r in range(rounds):
                order = names if r % 2 == 0 else list(reversed(names))  # alternate to spread drift
                for name in order:
                    variant = name if "-" in name else f"{name}-any" if name == "aiohttp" else f"{name}-bytes"
                    res = _run_one(variant, port, cfg)
                    results[name].append(res)
                    print(
                        f"  {cfg.name:36} {name:14} cpu {res.cpu_ms_per_req:7.3f} ms/req  "
                        f"{res.req_per_s:8.0f} req/s  errors {res.errors}",
                        file=sys.stderr,
                    )
            med = {n: statistics.median(x.cpu_ms_per_req for x in rs) for n, rs in results.items()}
            rps = {n: statistics.median(x.req_per_s for x in rs) for n, rs in results.items()}
            errs = {n: sum(x.errors for x in rs) for n, rs in results.items()}
            best_a = min((v for n, v in med.items() if n.startswith("aiohttp")), default=float("nan"))
            best_h = min((v for n, v in med.items() if n.startswith("httpx")), default=float("nan"))
            for n in names:
                rows.append(f"| {cfg.name} | {n} | {med[n]:.3f} | {rps[n]:.0f} | {errs[n]} | {med[n] / best_a:.2f} |")
            rows.append(f"| {cfg.name} | **httpx best / aiohttp best** | **{best_h / best_a:.2f}x** | | | |")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    table = "\n".join(
        [
            f"Client CPU per request (median of {rounds} runs, {requests} requests/run, "
            f"Python {sys.version.split()[0]}, uvloop, {os.cpu_count()} CPUs)",
            "",
            "| config | client | CPU ms/req | req/s | errors | CPU vs best aiohttp |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    if out is not None:
        out.write_text(table + "\n")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.clients", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker", help="one measurement in this process; prints a JSON line")
    w.add_argument("--variant", choices=VARIANTS, required=True)
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--mode", choices=("stream", "json"), default="stream")
    w.add_argument("--requests", type=int, default=2000)
    w.add_argument("--concurrency", type=int, default=16)
    w.add_argument("--warmup", type=int, default=100)
    w.add_argument("--expect-events", type=int, default=0, help="data: events per stream (0 = don't check)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    if args.command == "worker":
        import uvloop

        url = f"http://{args.host}:{args.port}/v1/chat/completions"
        result = uvloop.run(
            run_worker(args.variant, url, args.mode, args.requests, args.concurrency, args.warmup, args.expect_events)
        )
        print(json.dumps(asdict(result)))
        return
    print(compare(args.rounds, args.requests, args.variants.split(","), args.out))


if __name__ == "__main__":
    main()
