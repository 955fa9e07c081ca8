"""Soak test: hundreds of concurrent streams for a minute, then thousands of streams aborted mid-way.

    python -m bench.soak                 # about 2 minutes
    python -m bench.soak --quick         # under a minute: a 20 s soak and 1,000 aborts
    python -m bench.soak --json /tmp/soak.json

It starts the fake upstream (``bench.fake_upstream``) and the gateway (``python -m mimo2codex``, one
uvicorn worker, isolated HOME and data dir, log to a file) as subprocesses on loopback, and drives them
from this process (uvloop, one aiohttp session per phase).

1. Soak. The upstream is paced so a stream lasts about 4 s (40 content chunks, 100 ms apart). 500
   lanes, started over the first stream's length so they do not finish in lockstep, each send the Codex
   fixture request (``stream: true``) again as soon as their stream ends, which keeps 500 streams in
   flight. After a warm-up (ramp plus one stream length) a measured window of 60 s begins; the gateway's
   RSS (``VmRSS`` in ``/proc/<pid>/status``) is sampled every second. Every stream, warm-up included,
   must be an HTTP 200 whose last event is ``response.completed``.
2. Aborts. The upstream is paced so a stream would last about 10 s. 5,000 streams, 200 in flight, each
   read until the third ``response.output_text.delta`` and then have their socket closed by the client.
   Every stream must reach its third delta. A moment later (at most 3 s, a third of a stream's length,
   so a stream the gateway failed to cancel would still be running) the fake upstream must count no
   stream still being written, and as many abandoned streams as aborts. The gateway's open file
   descriptors (``/proc/<pid>/fd``) must be back near their idle count.

Criteria (exit status 1 if one fails): no stream error in either phase; the upstream saw all 500
streams at once (a gateway that queues requests behind a connection limit fails here); RSS growth under
10% between the mean of the first and of the last 10 s of the window; after the aborts, 0 upstream
streams running, every abort seen as abandoned upstream, and no upstream connection left open by them
(each abort takes an idle pooled connection or a new one, and must close it); gateway fds within 16 of
idle; no traceback or ERROR line in the gateway log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.load import codex_headers, responses_body
from bench.processes import free_port, set_shape, start_upstream, tail, vm_hwm_mb

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
FD_SLACK = 16
RSS_GROWTH_LIMIT_PCT = 10.0
DELTA = b"response.output_text.delta"
COMPLETED = b"response.completed"


@dataclass(frozen=True, slots=True)
class Plan:
    streams: int = 500
    duration_s: float = 60.0
    edge_s: float = 10.0  # RSS is compared between the first and the last edge_s of the window
    soak_chunks: int = 40
    soak_pace_ms: float = 100.0
    aborts: int = 5000
    abort_concurrency: int = 200
    abort_after_deltas: int = 3
    abort_chunks: int = 200
    abort_pace_ms: float = 50.0
    settle_s: float = 3.0

    @property
    def stream_s(self) -> float:
        return self.soak_chunks * self.soak_pace_ms / 1000

    @classmethod
    def quick(cls) -> Plan:
        return cls(duration_s=20.0, edge_s=5.0, aborts=1000)


@dataclass(slots=True)
class SoakResult:
    streams: int = 0
    completed: int = 0
    completed_in_window: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    stream_s_p50: float = 0.0
    stream_s_p99: float = 0.0
    rss_samples_mb: list[float] = field(default_factory=list)
    rss_first_mb: float = 0.0
    rss_last_mb: float = 0.0
    rss_growth_pct: float = 0.0
    gateway_cpu_util: float = 0.0
    client_cpu_util: float = 0.0
    upstream_peak_streams: int = 0
    gateway_fds_peak: int = 0


@dataclass(slots=True)
class AbortResult:
    aborted: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    upstream_streams: int = 0
    upstream_abandoned: int = 0
    upstream_active_after: int = -1
    upstream_open_connections_before: int = 0
    upstream_open_connections_after: int = -1
    settled_after_s: float = -1.0
    gateway_fds_before: int = 0
    gateway_fds_after: int = 0
    gateway_rss_before_mb: float = 0.0
    gateway_rss_after_mb: float = 0.0
    gateway_cpu_ms_per_abort: float = 0.0
    #: the gateway's RSS after each tenth of the aborts: a leak grows steadily, a warm heap levels off
    gateway_rss_progress_mb: list[float] = field(default_factory=list)


# --- processes ----------------------------------------------------------------------------------------


def start_gateway(upstream_port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = workdir / "gateway.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(workdir),  # no user config or other providers' keys
        "GENERIC_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "GENERIC_API_KEY": "bench",
        "GENERIC_DEFAULT_MODEL": "mimo-v2.5-pro",
        "MIMO2CODEX_DEFAULT_PROVIDER": "generic",
        "MIMO2CODEX_HOST": "127.0.0.1",
        "MIMO2CODEX_PORT": str(port),
        "MIMO2CODEX_DATA_DIR": str(workdir / "data"),
        "MIMO2CODEX_WORKERS": "1",
    }
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mimo2codex"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port, log
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"gateway did not listen on {port}:\n{tail(log)}")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def upstream_stats(upstream_port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/_stats", timeout=5) as resp:
        stats: dict[str, int] = orjson.loads(resp.read())
    # This very request holds a connection open while the stats are rendered: leave it out.
    stats["open_connections"] -= 1
    return stats


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def log_problems(log: Path) -> list[str]:
    """Traceback and ERROR lines of the gateway log (at most 10, with their counts)."""
    seen: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Traceback") or " ERROR " in line or line.startswith("ERROR"):
            seen[line[:200]] += 1
    return [f"{n} x {text}" for text, n in seen.most_common(10)]


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# --- load ---------------------------------------------------------------------------------------------


class _EventTail:
    """The ``event:`` lines of a Responses SSE stream: how many deltas, and the type of the last event."""

    __slots__ = ("buf", "deltas", "last")

    def __init__(self) -> None:
        self.buf = b""
        self.deltas = 0
        self.last = b""

    def feed(self, chunk: bytes) -> None:
        data = self.buf + chunk if self.buf else chunk
        *lines, self.buf = data.split(b"\n")
        for line in lines:
            if line.startswith(b"event:"):
                self.last = line[6:].strip()
                if self.last == DELTA:
                    self.deltas += 1


class _Errors:
    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.samples: list[str] = []

    def add(self, kind: str, sample: str) -> None:
        self.kinds[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {sample[:300]}")


class Client:
    def __init__(self, gateway_port: int) -> None:
        self.url = f"http://127.0.0.1:{gateway_port}/v1/responses"
        self.body = responses_body(True)
        self.headers = codex_headers()

    async def full_stream(self, session: aiohttp.ClientSession, errors: _Errors) -> bool:
        """One stream read to its end; True when it is a 200 ending in ``response.completed``."""
        try:
            async with session.post(self.url, data=self.body, headers=self.headers) as resp:
                if resp.status != 200:
                    errors.add(f"http {resp.status}", (await resp.read()).decode(errors="replace"))
                    return False
                tail = _EventTail()
                last_chunk = b""
                async for chunk in resp.content.iter_any():
                    tail.feed(chunk)
                    last_chunk = chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            errors.add(type(exc).__name__, str(exc))
            return False
        if tail.last != COMPLETED:
            errors.add(f"ended with {tail.last.decode() or 'nothing'}", last_chunk[-300:].decode(errors="replace"))
            return False
        return True

    async def aborted_stream(self, session: aiohttp.ClientSession, after_deltas: int, errors: _Errors) -> bool:
        """Read a stream until ``after_deltas`` text deltas arrived, then close its socket."""
        try:
            async with session.post(self.url, data=self.body, headers=self.headers) as resp:
                if resp.status != 200:
                    errors.add(f"http {resp.status}", (await resp.read()).decode(errors="replace"))
                    return False
                tail = _EventTail()
                async for chunk in resp.content.iter_any():
                    tail.feed(chunk)
                    if tail.deltas >= after_deltas:
                        resp.close()  # drops the TCP connection: the client is gone
                        return True
                errors.add("ended before the abort", f"last event {tail.last.decode()}")
                return False
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            errors.add(type(exc).__name__, str(exc))
            return False


def _session(limit: int, timeout_s: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit),
        timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=10),
    )


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def soak(plan: Plan, client: Client, gateway_pid: int, upstream_port: int) -> SoakResult:
    loop = asyncio.get_running_loop()
    errors = _Errors()
    durations: list[float] = []
    result = SoakResult()
    warmup_s = plan.stream_s * 2  # the ramp, then one full stream length
    start = loop.time()
    window_start = start + warmup_s
    window_end = window_start + plan.duration_s

    async def lane(session: aiohttp.ClientSession, index: int) -> None:
        await asyncio.sleep(plan.stream_s * index / plan.streams)
        while loop.time() < window_end:
            began = loop.time()
            result.streams += 1
            if await client.full_stream(session, errors):
                result.completed += 1
                ended = loop.time()
                durations.append(ended - began)
                if window_start <= ended <= window_end:
                    result.completed_in_window += 1

    async def sample() -> None:
        await asyncio.sleep(max(0.0, window_start - loop.time()))
        cpu0, client_cpu0, t0 = cpu_seconds(gateway_pid), time.process_time(), loop.time()
        tick = window_start
        while tick <= window_end + 1e-6:
            await asyncio.sleep(max(0.0, tick - loop.time()))
            result.rss_samples_mb.append(rss_mb(gateway_pid))
            result.gateway_fds_peak = max(result.gateway_fds_peak, fd_count(gateway_pid))
            tick += 1.0
        elapsed = loop.time() - t0
        result.gateway_cpu_util = (cpu_seconds(gateway_pid) - cpu0) / elapsed
        result.client_cpu_util = (time.process_time() - client_cpu0) / elapsed

    async with _session(plan.streams, timeout_s=plan.stream_s * 10 + 60) as session:
        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(lane(session, i) for i in range(plan.streams)))
        await sampler
    edge = int(plan.edge_s)
    samples = result.rss_samples_mb
    result.rss_first_mb = statistics.fmean(samples[:edge])
    result.rss_last_mb = statistics.fmean(samples[-edge:])
    result.rss_growth_pct = (result.rss_last_mb / result.rss_first_mb - 1) * 100
    result.errors = dict(errors.kinds)
    result.error_samples = errors.samples
    result.stream_s_p50 = _percentile(durations, 50)
    result.stream_s_p99 = _percentile(durations, 99)
    result.upstream_peak_streams = upstream_stats(upstream_port)["peak_active_streams"]
    return result


async def aborts(plan: Plan, client: Client, gateway_pid: int, upstream_port: int, idle_fds: int) -> AbortResult:
    result = AbortResult(gateway_fds_before=idle_fds, gateway_rss_before_mb=rss_mb(gateway_pid))
    errors = _Errors()
    before = upstream_stats(upstream_port)
    result.upstream_open_connections_before = before["open_connections"]  # the gateway's idle pool
    remaining = plan.aborts
    cpu0, t0 = cpu_seconds(gateway_pid), time.perf_counter()

    step = max(1, plan.aborts // 10)
    finished = 0

    async def lane(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, finished
        while remaining > 0:
            remaining -= 1
            if await client.aborted_stream(session, plan.abort_after_deltas, errors):
                result.aborted += 1
            finished += 1
            if finished % step == 0:
                result.gateway_rss_progress_mb.append(round(rss_mb(gateway_pid), 1))

    async with _session(plan.abort_concurrency, timeout_s=60) as session:
        await asyncio.gather(*(lane(session) for _ in range(plan.abort_concurrency)))
    result.elapsed_s = time.perf_counter() - t0
    result.gateway_cpu_ms_per_abort = (cpu_seconds(gateway_pid) - cpu0) * 1000 / max(1, plan.aborts)

    settle_start = time.perf_counter()
    while True:
        after = upstream_stats(upstream_port)
        waited = time.perf_counter() - settle_start
        if after["active_streams"] == 0 or waited >= plan.settle_s:
            break
        await asyncio.sleep(0.05)
    if after["active_streams"] == 0:
        result.settled_after_s = waited
    # Idle pooled connections close on their own; give the fd count the rest of the settle time.
    await asyncio.sleep(max(0.0, plan.settle_s - waited))
    after = upstream_stats(upstream_port)
    result.upstream_active_after = after["active_streams"]
    result.upstream_open_connections_after = after["open_connections"]
    result.upstream_streams = after["streams"] - before["streams"]
    result.upstream_abandoned = after["streams_abandoned"] - before["streams_abandoned"]
    result.gateway_fds_after = fd_count(gateway_pid)
    result.gateway_rss_after_mb = rss_mb(gateway_pid)
    result.errors = dict(errors.kinds)
    result.error_samples = errors.samples
    return result


# --- driver -------------------------------------------------------------------------------------------


async def _drive(plan: Plan, gateway_pid: int, gateway_port: int, upstream_port: int) -> dict[str, Any]:
    client = Client(gateway_port)
    set_shape(upstream_port, {"chunks": 4, "pace_ms": 0})
    async with _session(8, timeout_s=30) as session:  # first requests pay for imports and pool setup
        warm = _Errors()
        await asyncio.gather(*(client.full_stream(session, warm) for _ in range(8)))
        if warm.kinds:
            raise RuntimeError(f"warm-up streams failed: {warm.samples}")
    await asyncio.sleep(1.0)
    idle_rss, idle_fds = rss_mb(gateway_pid), fd_count(gateway_pid)
    print(f"gateway idle: RSS {idle_rss:.1f} MB, {idle_fds} fds", file=sys.stderr)

    set_shape(upstream_port, {"chunks": plan.soak_chunks, "pace_ms": plan.soak_pace_ms})
    print(
        f"soak: {plan.streams} streams of ~{plan.stream_s:g} s, warm-up {plan.stream_s * 2:g} s, "
        f"window {plan.duration_s:g} s",
        file=sys.stderr,
    )
    soaked = await soak(plan, client, gateway_pid, upstream_port)
    print(f"soak done: {soaked.completed}/{soaked.streams} completed", file=sys.stderr)

    set_shape(upstream_port, {"chunks": plan.abort_chunks, "pace_ms": plan.abort_pace_ms})
    await asyncio.sleep(1.0)
    print(f"aborts: {plan.aborts} streams, {plan.abort_concurrency} at a time", file=sys.stderr)
    aborted = await aborts(plan, client, gateway_pid, upstream_port, idle_fds)
    idle = {"rss_mb": idle_rss, "fds": idle_fds}
    return {"plan": asdict(plan), "idle": idle, "soak": asdict(soaked), "aborts": asdict(aborted)}


def format_soak(s: SoakResult, plan: Plan) -> str:
    errors = ", ".join(f"{k} x{v}" for k, v in s.errors.items()) or "none"
    return "\n".join(
        [
            f"soak: {plan.streams} concurrent streams, {plan.duration_s:g} s window: {s.completed}/{s.streams} "
            f"completed ({s.completed_in_window} in the window), errors: {errors}",
            f"  stream duration p50 {s.stream_s_p50:.2f} s, p99 {s.stream_s_p99:.2f} s (upstream pacing "
            f"{plan.stream_s:g} s); upstream peak concurrent streams {s.upstream_peak_streams}",
            f"  gateway RSS first {plan.edge_s:g} s {s.rss_first_mb:.1f} MB, last {plan.edge_s:g} s "
            f"{s.rss_last_mb:.1f} MB: growth {s.rss_growth_pct:+.1f}%; peak fds {s.gateway_fds_peak}",
            f"  gateway CPU {s.gateway_cpu_util:.0%} of a core; load generator {s.client_cpu_util:.0%}",
        ]
    )


def format_aborts(a: AbortResult, plan: Plan) -> str:
    errors = ", ".join(f"{k} x{v}" for k, v in a.errors.items()) or "none"
    settled = f"{a.settled_after_s:.2f} s" if a.settled_after_s >= 0 else f"not within {plan.settle_s:g} s"
    return "\n".join(
        [
            f"aborts: {a.aborted}/{plan.aborts} closed after {plan.abort_after_deltas} deltas in {a.elapsed_s:.1f} s, "
            f"errors: {errors}; gateway CPU {a.gateway_cpu_ms_per_abort:.2f} ms per aborted stream",
            f"  upstream: {a.upstream_streams} streams opened, {a.upstream_abandoned} abandoned mid-stream; "
            f"{a.upstream_active_after} still streaming (0 after {settled}); "
            f"connections open {a.upstream_open_connections_before} before (the gateway's idle pool), "
            f"{a.upstream_open_connections_after} after",
            f"  gateway fds idle {a.gateway_fds_before} -> after {a.gateway_fds_after}; "
            f"RSS {a.gateway_rss_before_mb:.1f} -> {a.gateway_rss_after_mb:.1f} MB "
            f"(every tenth: {', '.join(f'{x:.0f}' for x in a.gateway_rss_progress_mb)})",
        ]
    )


def criteria(report: dict[str, Any], plan: Plan) -> list[tuple[str, bool]]:
    s, a = report["soak"], report["aborts"]
    return [
        ("soak: every stream ended in response.completed", not s["errors"] and s["completed"] == s["streams"]),
        (
            f"soak: upstream saw all {plan.streams} streams at once (peak {s['upstream_peak_streams']})",
            s["upstream_peak_streams"] >= plan.streams,
        ),
        (f"soak: RSS growth {s['rss_growth_pct']:+.1f}% < {RSS_GROWTH_LIMIT_PCT:g}%", s["rss_growth_pct"] < 10),
        ("aborts: every stream reached its abort point", not a["errors"] and a["aborted"] == plan.aborts),
        ("aborts: no upstream stream still running", a["upstream_active_after"] == 0),
        (
            f"aborts: upstream saw {a['upstream_abandoned']} abandoned streams (>= {plan.aborts})",
            a["upstream_abandoned"] >= plan.aborts,
        ),
        (
            # Every abort takes an idle pooled connection (or a new one) and must close it.
            f"aborts: upstream connections left open {a['upstream_open_connections_after']} "
            f"(<= {max(0, a['upstream_open_connections_before'] - plan.aborts)})",
            a["upstream_open_connections_after"] <= max(0, a["upstream_open_connections_before"] - plan.aborts),
        ),
        (
            f"aborts: gateway fds {a['gateway_fds_after']} within {FD_SLACK} of idle {a['gateway_fds_before']}",
            a["gateway_fds_after"] <= a["gateway_fds_before"] + FD_SLACK,
        ),
        ("gateway log: no traceback or ERROR line", not report["gateway_log_problems"]),
    ]


def run(plan: Plan) -> dict[str, Any]:
    raise_fd_limit()
    upstream, upstream_port = start_upstream()
    gateway: subprocess.Popen[bytes] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="mimo2codex-soak-") as tmp:
            gateway, gateway_port, log = start_gateway(upstream_port, Path(tmp))
            try:
                import uvloop

                report: dict[str, Any] = uvloop.run(_drive(plan, gateway.pid, gateway_port, upstream_port))
            except ImportError:  # pragma: no cover - uvloop is a dependency on CPython/posix
                report = asyncio.run(_drive(plan, gateway.pid, gateway_port, upstream_port))
            if gateway.poll() is not None:
                raise RuntimeError(f"gateway died during the run:\n{tail(log)}")
            report["gateway_log_problems"] = log_problems(log)
            report["gateway_rss_hwm_mb"] = vm_hwm_mb(gateway.pid)
            stop(gateway)
    finally:
        if gateway is not None:
            stop(gateway)
        stop(upstream)
    report["cpus"] = os.cpu_count()
    report["client_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20 s soak and 1,000 aborts (under a minute)")
    parser.add_argument("--streams", type=int, help="concurrent streams in the soak (default 500)")
    parser.add_argument("--duration", type=float, help="measured soak window, seconds (default 60)")
    parser.add_argument("--aborts", type=int, help="streams aborted by the client (default 5000)")
    parser.add_argument("--json", type=Path, help="also write the full report (JSON) here")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    overrides = {"streams": args.streams, "duration_s": args.duration, "aborts": args.aborts}
    plan = Plan(**{**asdict(plan), **{k: v for k, v in overrides.items() if v is not None}})
    if plan.duration_s < 2 * plan.edge_s:
        parser.error(f"--duration must be at least {2 * plan.edge_s:g} s")

    started = time.perf_counter()
    report = run(plan)
    report["wall_s"] = time.perf_counter() - started
    plan_view = Plan(**report["plan"])
    print(format_soak(SoakResult(**report["soak"]), plan_view))
    print(format_aborts(AbortResult(**report["aborts"]), plan_view))
    print(f"gateway RSS high-water mark {report['gateway_rss_hwm_mb']:.1f} MB; run took {report['wall_s']:.0f} s")
    for problem in report["gateway_log_problems"]:
        print(f"  gateway log: {problem}")
    results = criteria(report, plan)
    report["criteria"] = [{"criterion": name, "ok": ok} for name, ok in results]
    for name, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
