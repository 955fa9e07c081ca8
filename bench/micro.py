"""Microbenchmark of the pure translators, in µs per call: no sockets, no event loop, one process.

    python -m bench.micro              # ~15 s; prints a markdown table
    python -m bench.micro --quick      # ~4 s
    python -m bench.micro --json FILE  # also writes the figures

Cases:

- request translation: ``responses_to_chat`` of each Codex CLI fixture (``/work/shared/fixtures``)
  for the MiMo profile (the default provider); also the whole request path as the gateway runs it,
  ``orjson.loads`` of the compact body + translation + ``orjson.dumps`` of the Chat body;
- stream translation of 100-chunk and 1,000-chunk Chat streams (the chunks ``bench.fake_upstream``
  sends): the translator alone (``StreamTranslator`` fed parsed chunks, then ``finish()``), and the
  whole stream path (SSE bytes in, cut in 4 KiB network reads -> ``SSEDecoder`` -> ``orjson.loads`` ->
  translator -> ``encode_event`` bytes out);
- non-stream answer: ``chat_to_response`` of a 100-token completion.

Each case runs ``--rounds`` rounds of enough calls to fill about ``--round-ms``; the table gives the
median round (and the best) as µs per call. Garbage collection stays on, as in the server.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.fake_upstream import Shape, render_completion, render_stream_events
from mimo2codex.protocol.context import ResponseContext, echo_fields
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.request import responses_to_chat
from mimo2codex.protocol.response import chat_to_response
from mimo2codex.protocol.sse import SSEDecoder, encode_events
from mimo2codex.protocol.stream import StreamTranslator
from mimo2codex.settings import load_settings

FIXTURES = Path("/work/shared/fixtures/codex-cli-0.169.0")
NETWORK_READ = 4096


@dataclass(slots=True)
class Result:
    case: str
    calls: int
    median_us: float
    best_us: float
    #: µs per upstream chunk (stream cases), else 0
    per_chunk_us: float = 0.0


def measure(fn: Callable[[], object], rounds: int, round_ms: float) -> tuple[int, float, float]:
    """(calls per round, median µs per call, best µs per call)."""
    fn()  # warm caches and lazy imports
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(round_ms / 1000 / once))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return calls, statistics.median(times), min(times)


def mimo_profile() -> UpstreamProfile:
    """The translation profile of the default provider and model (MiMo, mimo-v2.5-pro)."""
    settings = load_settings({"MIMO_API_KEY": "sk-bench-0000000000000000"}, serving=False)
    provider = settings.default
    return provider.profile(provider.default_model or "mimo-v2.5-pro")


def request_path(raw: bytes, profile: UpstreamProfile) -> bytes:
    """What the gateway does with a request body before it goes upstream."""
    return orjson.dumps(responses_to_chat(orjson.loads(raw), profile).body)


def context(request: dict[str, Any], tool_map: Any = None) -> ResponseContext:
    ctx = ResponseContext("resp_0123456789abcdef01234567", 1_700_000_000, str(request.get("model", "m")))
    ctx.echo = echo_fields(request)
    if tool_map is not None:
        ctx.tool_map = tool_map
    return ctx


def stream_bytes(chunks: int) -> bytes:
    """The SSE body of a ``chunks``-chunk stream, as ``bench.fake_upstream`` sends it."""
    events = render_stream_events(Shape(chunks=chunks), "mimo-v2.5-pro", "exec_command", 1_700_000_000)
    return b"".join(events)


def run(rounds: int, round_ms: float) -> list[Result]:
    profile = mimo_profile()
    results: list[Result] = []

    def add(case: str, fn: Callable[[], object], chunks: int = 0) -> None:
        calls, median, best = measure(fn, rounds, round_ms)
        results.append(Result(case, calls, median, best, median / chunks if chunks else 0.0))
        print(f"  {case:60} {median:10.1f} µs", file=sys.stderr)

    fixtures = sorted(FIXTURES.glob("*.request.json"))
    for path in fixtures:
        request = json.loads(path.read_text())
        request["stream"] = True
        raw = orjson.dumps(request)
        name = path.name.removesuffix(".request.json")
        add(f"request {name}: responses_to_chat", functools.partial(responses_to_chat, request, profile))
        add(
            f"request {name}: bytes -> Chat bytes ({len(raw) // 1024} KiB)",
            functools.partial(request_path, raw, profile),
        )

    request = json.loads(fixtures[0].read_text())
    tool_map = responses_to_chat(request, profile).tool_map
    for chunks in (100, 1000):
        body = stream_bytes(chunks)
        parsed = [orjson.loads(line[6:]) for line in body.split(b"\n\n") if line.startswith(b"data: {")]
        pieces = [body[i : i + NETWORK_READ] for i in range(0, len(body), NETWORK_READ)]

        def translate_only(parsed: list[dict[str, Any]] = parsed) -> None:
            translator = StreamTranslator(context(request, tool_map))
            translator.start()
            for chunk in parsed:
                translator.feed(chunk)
            translator.finish()

        def whole_path(pieces: list[bytes] = pieces) -> None:
            translator = StreamTranslator(context(request, tool_map))
            decoder = SSEDecoder()
            out = [encode_events(translator.start())]
            for piece in pieces:
                events: list[dict[str, Any]] = []
                for event in decoder.feed(piece):
                    if event.data != "[DONE]":
                        events.extend(translator.feed(orjson.loads(event.data)))
                out.append(encode_events(events))
            out.append(encode_events(translator.finish()))

        add(f"stream {chunks} chunks: StreamTranslator only", translate_only, chunks)
        add(f"stream {chunks} chunks: SSE bytes -> Responses SSE bytes", whole_path, chunks)

    completion = orjson.loads(render_completion(Shape(chunks=100), "mimo-v2.5-pro", "exec_command", 1_700_000_000))
    add(
        "non-stream answer: chat_to_response + orjson.dumps",
        lambda: orjson.dumps(chat_to_response(completion, context(request, tool_map))),
    )
    return results


def format_table(results: list[Result]) -> str:
    lines = [
        f"Pure translators, µs per call (median of rounds; Python {sys.version.split()[0]})",
        "",
        "| case | µs per call | best | µs per chunk |",
        "|---|---|---|---|",
    ]
    for r in results:
        per_chunk = f"{r.per_chunk_us:.2f}" if r.per_chunk_us else ""
        lines.append(f"| {r.case} | {r.median_us:.1f} | {r.best_us:.1f} | {per_chunk} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-ms", type=float, default=150.0, help="target duration of one round")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 50 ms")
    parser.add_argument("--json", type=Path, help="also write the results (JSON) here")
    args = parser.parse_args(argv)
    rounds, round_ms = (3, 50.0) if args.quick else (args.rounds, args.round_ms)
    results = run(rounds, round_ms)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
