"""One command: what the gateway adds over talking to the upstream directly.

    python -m bench.run                 # ~1.5 minutes: 3 scenarios x (baseline + gateway), c=64
    python -m bench.run --quick         # ~30 s, shorter runs
    python -m bench.run --out /tmp/bench.md --json /tmp/bench.json

Steps:
1. Start the fake upstream (``bench.fake_upstream``) in its own process.
2. For each scenario, measure the baseline: ``bench.load --target direct`` sends Chat requests straight to
   the upstream.
3. Start the gateway (``python -m mimo2codex``, one uvicorn worker, own process, isolated HOME and data
   dir, log to a file).
4. For each scenario, measure the gateway: ``bench.load --target responses`` sends the Codex fixture. The
   gateway's CPU time comes from ``/proc/<pid>/stat`` (utime + stime) read before and after the
   measured run, so warmup is excluded. Its RSS is sampled while the run goes.

The scenarios, all at the same concurrency (default 64):
- a non-stream request;
- a stream of 100 chunks sent in one burst;
- a stream of 100 chunks paced 10 ms apart, which is how a real model streams.

The printed table gives, for each scenario:
- the gateway's CPU ms per request;
- the p50 latency and the time to first event that the gateway adds;
- the throughput ratio;
- how many streams completed;
- the gateway's RSS at idle and at peak.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    stream: bool
    pace_ms: float
    duration_s: float


def scenarios(duration_s: float) -> list[Scenario]:
    return [
        Scenario("non-stream", False, 0.0, duration_s),
        Scenario("stream 100 chunks", True, 0.0, duration_s),
        # each paced stream lasts ~1 s, so give it a little longer to finish a few hundred
        Scenario("stream paced 10ms", True, 10.0, max(duration_s, 4.0) * 1.5),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"gateway did not listen on {port} within {timeout_s}s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


class RssSampler:
    """Samples a process's RSS every 50 ms in a thread; ``peak`` is the largest sample."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except OSError:
                return
            self._stop.wait(0.05)


def load(base: str, target: str, sc: Scenario, concurrency: int, *, requests: int | None = None) -> dict[str, Any]:
    """Run ``bench.load`` in its own process and return its JSON summary."""
    cmd = [sys.executable, "-m", "bench.load", "--base", base, "--target", target, "--json"]
    cmd += ["--stream" if sc.stream else "--no-stream", "-c", str(concurrency), "--timeout", "60"]
    cmd += ["--requests", str(requests)] if requests is not None else ["--duration", str(sc.duration_s)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if not out.stdout.strip():
        raise RuntimeError(f"bench.load failed ({out.returncode}): {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def set_shape(upstream_port: int, shape: dict[str, Any]) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{upstream_port}/_config", data=orjson.dumps(shape), method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def start_upstream() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_upstream", "--port", "0", "--print-port"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"fake upstream did not print its port (got {line!r})")
    return proc, int(line)


def start_gateway(upstream_port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = _free_port()
    log = workdir / "gateway.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(workdir),  # no user config or other providers' keys leak into the measurement
        "GENERIC_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "GENERIC_API_KEY": "bench",
        "GENERIC_DEFAULT_MODEL": "mimo-v2.5-pro",
        "MIMO2CODEX_PORT": str(port),
        "MIMO2CODEX_DATA_DIR": str(workdir / "data"),
    }
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mimo2codex"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    _wait_port(port, proc, log)
    return proc, port, log


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def run(duration_s: float, concurrency: int) -> dict[str, Any]:
    upstream, up_port = start_upstream()
    direct_base = f"http://127.0.0.1:{up_port}"
    report: dict[str, Any] = {"concurrency": concurrency, "cpus": os.cpu_count(), "scenarios": []}
    gateway: subprocess.Popen[bytes] | None = None
    try:
        baselines: dict[str, dict[str, Any]] = {}
        for sc in scenarios(duration_s):
            set_shape(up_port, {"chunks": 100, "pace_ms": sc.pace_ms})
            load(direct_base, "direct", sc, concurrency, requests=concurrency * 2)  # warm connections
            baselines[sc.name] = load(direct_base, "direct", sc, concurrency)
            print(f"direct   {sc.name:20} {baselines[sc.name]['req_per_s']:8.1f} req/s", file=sys.stderr)

        with tempfile.TemporaryDirectory(prefix="mimo2codex-bench-") as tmp:
            gateway, gw_port, log = start_gateway(up_port, Path(tmp))
            gw_base = f"http://127.0.0.1:{gw_port}"
            time.sleep(0.5)
            report["rss_idle_mb"] = rss_mb(gateway.pid)
            for sc in scenarios(duration_s):
                set_shape(up_port, {"chunks": 100, "pace_ms": sc.pace_ms})
                load(gw_base, "responses", sc, concurrency, requests=concurrency * 2)  # warm-up, not measured
                cpu0 = cpu_seconds(gateway.pid)
                with RssSampler(gateway.pid) as rss:
                    result = load(gw_base, "responses", sc, concurrency)
                cpu = cpu_seconds(gateway.pid) - cpu0
                base = baselines[sc.name]
                row = {
                    "scenario": sc.name,
                    "direct": base,
                    "gateway": result,
                    "gateway_cpu_ms_per_req": cpu * 1000 / max(1, result["requests"]),
                    "gateway_cpu_util": cpu / result["elapsed_s"],
                    "rss_peak_mb": rss.peak,
                }
                report["scenarios"].append(row)
                print(
                    f"gateway  {sc.name:20} {result['req_per_s']:8.1f} req/s  "
                    f"cpu {row['gateway_cpu_ms_per_req']:.3f} ms/req  ok {result['ok']}/{result['requests']}",
                    file=sys.stderr,
                )
            if gateway.poll() is not None:
                raise RuntimeError(f"gateway died during the run:\n{_tail(log)}")
            report["rss_hwm_mb"] = _vm_hwm_mb(gateway.pid)
            report["gateway_log_errors"] = log_errors(log)
            _stop(gateway)
    finally:
        if gateway is not None:
            _stop(gateway)
        _stop(upstream)
    return report


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def log_errors(log: Path) -> list[tuple[str, int]]:
    """Distinct exception lines (the last line of each traceback) and ERROR records, most frequent first."""
    seen: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if _EXCEPTION_LINE.match(line):
            seen[line[:200]] += 1
        elif " ERROR " in line:
            seen[line.split(" ERROR ", 1)[1][:200]] += 1
    return seen.most_common(8)


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _fmt(value: float, spec: str = ".1f") -> str:
    return "n/a" if value != value else format(value, spec)  # NaN when no request succeeded


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"Gateway vs direct upstream, c={report['concurrency']}, {report['cpus']} CPUs "
        f"(load generator, fake upstream and gateway share them)",
        "",
        "| scenario | gateway CPU ms/req | gateway CPU util | direct p50 ms | gateway p50 ms | added p50 ms "
        "| added first-token p50 ms | direct req/s | gateway req/s | throughput ratio | completed | RSS peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["scenarios"]:
        d, g = row["direct"], row["gateway"]
        added_ttft = g["ttft_p50_ms"] - d["ttft_p50_ms"] if g["stream"] else float("nan")
        errors = ", ".join(f"{k} x{v}" for k, v in g["errors"].items())
        lines.append(
            f"| {row['scenario']} | {row['gateway_cpu_ms_per_req']:.3f} | {row['gateway_cpu_util']:.0%} "
            f"| {_fmt(d['p50_ms'])} | {_fmt(g['p50_ms'])} | {_fmt(g['p50_ms'] - d['p50_ms'])} "
            f"| {_fmt(added_ttft)} | {d['req_per_s']:.0f} | {g['req_per_s']:.0f} "
            f"| {_ratio(g['req_per_s'], d['req_per_s'])} | {g['ok']}/{g['requests']}{' ' + errors if errors else ''} "
            f"| {row['rss_peak_mb']:.1f} |"
        )
    lines += ["", f"Gateway RSS idle {report['rss_idle_mb']:.1f} MB, peak (VmHWM) {report['rss_hwm_mb']:.1f} MB."]
    if report.get("gateway_log_errors"):
        lines += ["", "Gateway log errors:", *(f"    {n} x {text}" for text, n in report["gateway_log_errors"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--quick", action="store_true", help="3-second runs")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    parser.add_argument("--json", type=Path, help="also write the full report (JSON) here")
    args = parser.parse_args(argv)
    report = run(3.0 if args.quick else args.duration, args.concurrency)
    table = format_report(report)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    ok = all(row["gateway"]["all_completed"] for row in report["scenarios"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
