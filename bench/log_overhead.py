"""What the request log costs a request: the gateway with the log on (the default) and off, in pairs.

    python -m bench.log_overhead                 # about 4 minutes: 7 on/off pairs of 3-second runs
    python -m bench.log_overhead --quick         # about 1 minute: 2 pairs of 2-second runs, noisier

Two gateways run side by side, started as ``bench.run`` starts one (default settings: the log on
with errors-only bodies, SQLite under the data dir), the second with ``MIMO2CODEX_NO_REQUEST_LOG=1``.
Each scenario is measured in short on/off pairs whose order alternates (ABBA: on-off, off-on,
on-off, ...), so that a slow drift of the machine's load falls on both sides alike. The idle
gateway costs ~nothing while the other one is measured (it is measured too).

For each run, between the marks the load generator prints around its measured window:

- the gateway's CPU per request split by thread, from ``/proc/<pid>/task/*/stat`` (utime + stime):
  the event loop (the main thread), the log's writer thread (``mimo2codex-log-writer``, found by
  name with ``py-spy dump``), and every other thread;
- the other load on the machine: the whole machine's CPU (``/proc/stat``) minus the two gateways',
  the fake upstream's, the load generator's and this process's own, in cores.

Per scenario it reports the median of the per-pair ratios on/off (total CPU per request, and the
event loop's alone) with their spread, what the log adds per request split by thread (median of the
per-pair differences), and the p50 added (median of the per-pair differences, with their spread).
The target of issue 8 is a total ratio of at most 1.15 and an unchanged p50.

At the end the rows of the "on" gateway's log are counted against the requests it served (a log that
drops rows must not pass for a cheap one), and the successful requests' rows are checked to carry no
body (errors-only).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.load import MARK_END, MARK_START
from bench.processes import (
    ROOT,
    python_thread_names,
    set_shape,
    start_upstream,
    thread_cpu_seconds,
    thread_switches,
)
from bench.run import Gateway, Scenario, _stop, cpu_seconds, machine_busy_seconds, running_gateway

MODES: dict[str, dict[str, str]] = {"on": {}, "off": {"MIMO2CODEX_NO_REQUEST_LOG": "1"}}
WRITER_THREAD = "mimo2codex-log-writer"
#: how a gateway's threads are grouped: the event loop (main thread), the log's writer, the rest
GROUPS = ("loop", "writer", "other")
#: seconds between runs: the last batch of an "on" run (the writer lingers 250 ms) lands before the next run
SETTLE_S = 0.5
#: a run whose other load is below this many cores counts as quiet
QUIET_CORES = 0.15


def scenarios(duration_s: float) -> list[Scenario]:
    return [
        Scenario("nonstream", "non-stream, c=64", False, 64, duration_s, stagger_s=0.25),
        Scenario("stream", "stream 100 chunks, c=64", True, 64, duration_s, stagger_s=0.25),
        Scenario("nonstream_c1", "non-stream, c=1", False, 1, duration_s),
    ]


def pair_orders(pairs: int) -> Iterator[tuple[str, str]]:
    """ABBA: (on, off), (off, on), (on, off), ... so a linear drift of the load cancels out.

    >>> list(pair_orders(3))
    [('on', 'off'), ('off', 'on'), ('on', 'off')]
    """
    for pair in range(pairs):
        yield ("on", "off") if pair % 2 == 0 else ("off", "on")


@dataclass(slots=True)
class Run:
    scenario: str
    mode: str
    pair: int
    requests: int
    elapsed_s: float
    p50_ms: float
    #: the measured gateway's CPU ms per request, by thread group (GROUPS)
    cpu_ms: dict[str, float]
    #: the event loop's context switches per request: voluntary (waits: for the GIL, for I/O), and
    #: involuntary (preempted by the kernel: busy cores)
    loop_switches: tuple[float, float]
    #: cores used by everything outside the benchmark during the run
    other_cores: float
    #: cores the idle gateway used meanwhile (should be ~0)
    idle_gateway_cores: float
    load_cores: float
    upstream_cores: float

    @property
    def total_ms(self) -> float:
        return sum(self.cpu_ms.values())


def group_of(tid: int, pid: int, names: dict[int, str]) -> str:
    if tid == pid:
        return "loop"
    return "writer" if names.get(tid) == WRITER_THREAD else "other"


def grouped(before: dict[int, float], after: dict[int, float], pid: int, names: dict[int, str]) -> dict[str, float]:
    """CPU seconds per thread group between two :func:`thread_cpu_seconds` readings."""
    out = dict.fromkeys(GROUPS, 0.0)
    for tid, seconds in after.items():
        out[group_of(tid, pid, names)] += seconds - before.get(tid, 0.0)
    return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What :func:`measure_run` reads at each mark."""

    threads: dict[int, float]  # the measured gateway's CPU seconds by thread
    loop_switches: tuple[int, int]  # its event loop's context switches (voluntary, involuntary)
    idle_s: float  # the other gateway's CPU seconds
    upstream_s: float
    machine_s: float  # every process of the machine
    own_s: float  # this process

    @classmethod
    def take(cls, pid: int, idle_pid: int, upstream_pid: int) -> Snapshot:
        return cls(
            thread_cpu_seconds(pid),
            thread_switches(pid).get(pid, (0, 0)),
            cpu_seconds([idle_pid]),
            cpu_seconds([upstream_pid]),
            machine_busy_seconds(),
            time.process_time(),
        )


def measure_run(
    gateway: Gateway, idle: Gateway, names: dict[int, str], sc: Scenario, upstream_pid: int, mode: str, pair: int
) -> Run:
    """One ``bench.load`` run against ``gateway``, its threads measured between the load's marks."""
    warmup = max(20, sc.concurrency * 2)
    cmd = [sys.executable, "-m", "bench.load", "--base", gateway.base, "--target", "responses", "--json", "--marks"]
    cmd += ["--stream" if sc.stream else "--no-stream", "-c", str(sc.concurrency), "--timeout", "60"]
    cmd += ["--duration", str(sc.duration_s), "--warmup", str(warmup), "--stagger", str(sc.stagger_s)]
    pid = gateway.proc.pid
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    marks: list[Snapshot] = []
    lines: list[str] = []
    for raw in proc.stdout:
        line = raw.strip()
        if line in (MARK_START, MARK_END):
            marks.append(Snapshot.take(pid, idle.proc.pid, upstream_pid))
        elif line:
            lines.append(line)
    proc.wait(timeout=120)
    if len(marks) != 2 or not lines:
        raise RuntimeError(
            f"bench.load failed ({proc.returncode}): {proc.stderr.read()[-2000:] if proc.stderr else ''}"
        )
    load = json.loads(lines[-1])
    if load["ok"] != load["requests"]:
        raise RuntimeError(
            f"{load['requests'] - load['ok']} requests failed in {sc.name}, log {mode}: {load['errors']}"
        )
    a, b = marks
    threads = grouped(a.threads, b.threads, pid, names)
    elapsed, per = float(load["elapsed_s"]), max(1, int(load["requests"]))
    spent = {name: getattr(b, name) - getattr(a, name) for name in ("idle_s", "upstream_s", "machine_s", "own_s")}
    ours = sum(threads.values()) + spent["idle_s"] + spent["upstream_s"] + float(load["cpu_s"]) + spent["own_s"]
    return Run(
        scenario=sc.key,
        mode=mode,
        pair=pair,
        requests=int(load["requests"]),
        elapsed_s=elapsed,
        p50_ms=float(load["p50_ms"]),
        cpu_ms={group: seconds * 1000 / per for group, seconds in threads.items()},
        loop_switches=(
            (b.loop_switches[0] - a.loop_switches[0]) / per,
            (b.loop_switches[1] - a.loop_switches[1]) / per,
        ),
        other_cores=max(0.0, spent["machine_s"] - ours) / elapsed,
        idle_gateway_cores=spent["idle_s"] / elapsed,
        load_cores=float(load["cpu_s"]) / elapsed,
        upstream_cores=spent["upstream_s"] / elapsed,
    )


def _store_status(gateway: Gateway) -> str:
    with urllib.request.urlopen(f"{gateway.base}/", timeout=10) as resp:
        state = json.loads(resp.read()).get("store") or {}
    return str(state.get("status"))


def _log_rows(db: Path) -> tuple[int, int]:
    """(rows, rows of successful requests that carry a body) in a stopped gateway's log."""
    if not db.exists():
        return 0, 0
    conn = sqlite3.connect(db)
    try:
        rows = int(conn.execute("SELECT count(*) FROM chat_logs").fetchone()[0])
        bodies = conn.execute(
            "SELECT count(*) FROM chat_logs WHERE status_code < 400 AND error_code IS NULL "
            "AND (request_body IS NOT NULL OR response_body IS NOT NULL)"
        ).fetchone()[0]
        return rows, int(bodies)
    finally:
        conn.close()


@dataclass(slots=True)
class Report:
    scenarios: list[Scenario]
    pairs: int
    runs: list[Run] = field(default_factory=list)
    #: requests the "on" gateway served (warmups included) and the rows its log holds at the end
    served: int = 0
    rows: int = 0
    bodies_on_success: int = 0
    #: whether the writer thread was found by name (else it counts under "other")
    writer_found: bool = False
    started: float = field(default_factory=time.time)
    seconds: float = 0.0


def run(duration_s: float, pairs: int) -> Report:
    cases = scenarios(duration_s)
    report = Report(cases, pairs)
    upstream, up_port = start_upstream()
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mimo2codex-logbench-")))
            gateways: dict[str, Gateway] = {}
            for mode, env in MODES.items():
                (tmp / mode).mkdir()
                gateways[mode] = stack.enter_context(running_gateway(up_port, tmp / mode, extra_env=env))
            expected = {"on": "ok", "off": "disabled"}
            for mode, gateway in gateways.items():
                if (status := _store_status(gateway)) != expected[mode]:
                    raise RuntimeError(f"the log-{mode} gateway's store is {status!r}, expected {expected[mode]!r}")
            names = {mode: python_thread_names(gw.proc.pid) or {} for mode, gw in gateways.items()}
            report.writer_found = WRITER_THREAD in names["on"].values()
            if not report.writer_found:
                print("warning: py-spy could not name the threads: the writer counts under 'other'", file=sys.stderr)
            time.sleep(0.5)
            for pair, order in enumerate(pair_orders(pairs)):
                for sc in cases:
                    set_shape(up_port, sc.shape)
                    for mode in order:
                        idle = gateways["off" if mode == "on" else "on"]
                        r = measure_run(gateways[mode], idle, names[mode], sc, upstream.pid, mode, pair)
                        report.runs.append(r)
                        if mode == "on":
                            report.served += r.requests + max(20, sc.concurrency * 2)  # the warmup is logged too
                        _progress(r, sc)
                        time.sleep(SETTLE_S)
            _stop(gateways["on"].proc)  # a clean shutdown flushes the writer's queue
            report.rows, report.bodies_on_success = _log_rows(tmp / "on" / "data" / "data.db")
    finally:
        _stop(upstream)
    report.seconds = time.time() - report.started
    return report


def _progress(r: Run, sc: Scenario) -> None:
    parts = "  ".join(f"{g} {r.cpu_ms[g]:.3f}" for g in GROUPS)
    print(
        f"pair {r.pair + 1} log {r.mode:3} {sc.name:24} cpu ms/req {r.total_ms:.3f} ({parts})"
        f"  p50 {r.p50_ms:.2f} ms  {r.requests / r.elapsed_s:.0f} req/s  loop switches/req {r.loop_switches[0]:.2f}"
        f"+{r.loop_switches[1]:.2f}  other load {r.other_cores:.2f}",
        file=sys.stderr,
    )


# -- summary ---------------------------------------------------------------------------------------


def _spread(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    quartiles = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else ordered * 3
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "q1": quartiles[0],
        "q3": quartiles[2],
    }


def summarize(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {"pairs": report.pairs, "seconds": round(report.seconds, 1), "scenarios": {}}
    for sc in report.scenarios:
        runs = [r for r in report.runs if r.scenario == sc.key]
        pairs = []
        for pair in range(report.pairs):
            found = {r.mode: r for r in runs if r.pair == pair}
            if "on" in found and "off" in found:
                pairs.append((found["on"], found["off"]))
        if not pairs:
            continue
        ratio = [on.total_ms / off.total_ms for on, off in pairs]
        quiet = [on.total_ms / off.total_ms for on, off in pairs if max(on.other_cores, off.other_cores) < QUIET_CORES]
        by_mode = {
            mode: {
                **{g: statistics.median(r.cpu_ms[g] for r in runs if r.mode == mode) for g in GROUPS},
                "total": statistics.median(r.total_ms for r in runs if r.mode == mode),
                "p50_ms": statistics.median(r.p50_ms for r in runs if r.mode == mode),
                "req_per_s": statistics.median(r.requests / r.elapsed_s for r in runs if r.mode == mode),
                "loop_switches": statistics.median(sum(r.loop_switches) for r in runs if r.mode == mode),
            }
            for mode in MODES
        }
        out["scenarios"][sc.key] = {
            "name": sc.name,
            "by_mode": by_mode,
            "ratio": _spread(ratio),
            "loop_ratio": _spread([on.cpu_ms["loop"] / off.cpu_ms["loop"] for on, off in pairs]),
            "quiet_pairs": len(quiet),
            "quiet_ratio": statistics.median(quiet) if quiet else None,
            # what the log adds per request, by thread: median of the per-pair differences (ms)
            "added_ms": {
                **{g: statistics.median(on.cpu_ms[g] - off.cpu_ms[g] for on, off in pairs) for g in GROUPS},
                "total": statistics.median(on.total_ms - off.total_ms for on, off in pairs),
            },
            "added_p50_ms": _spread([on.p50_ms - off.p50_ms for on, off in pairs]),
            "other_cores": _spread([r.other_cores for r in runs]),
            "idle_gateway_cores": statistics.median(r.idle_gateway_cores for r in runs),
        }
    out["rows"] = {"served": report.served, "rows": report.rows, "bodies_on_success": report.bodies_on_success}
    out["writer_found"] = report.writer_found
    out["runs"] = [asdict(r) for r in report.runs]
    return out


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['pairs']} on/off pairs per scenario (ABBA order), {summary['seconds']:.0f} s in all. "
        "CPU in ms per request, medians over the runs; ratios and differences: medians over the pairs.",
        "",
        "| scenario | CPU off → on (loop + writer + other) | ratio on/off [min–max] (target ≤ 1.15) "
        "| loop ratio [min–max] | quiet pairs: ratio | p50 ms off → on | added p50 [min–max] | other load, cores |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summary["scenarios"].values():
        on, off = s["by_mode"]["on"], s["by_mode"]["off"]
        split = " + ".join(f"{on[g]:.3f}" for g in GROUPS)
        ratio, loop, p50, other = s["ratio"], s["loop_ratio"], s["added_p50_ms"], s["other_cores"]
        quiet = f"{s['quiet_pairs']}: {s['quiet_ratio']:.3f}×" if s["quiet_ratio"] is not None else "0"
        lines.append(
            f"| {s['name']} | {off['total']:.3f} → {on['total']:.3f} ({split}) "
            f"| {ratio['median']:.3f}× [{ratio['min']:.2f}–{ratio['max']:.2f}] "
            f"| {loop['median']:.3f}× [{loop['min']:.2f}–{loop['max']:.2f}] | {quiet} "
            f"| {off['p50_ms']:.2f} → {on['p50_ms']:.2f} | {p50['median']:+.2f} [{p50['min']:+.2f}–{p50['max']:+.2f}] "
            f"| {other['median']:.2f} [{other['min']:.2f}–{other['max']:.2f}] |"
        )
    lines += [
        "",
        "What the log adds per request (ms, median of the per-pair differences on − off):",
        "",
        "| scenario | event loop | writer thread | other threads | total | loop context switches/req, off → on "
        "| req/s, off → on |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary["scenarios"].values():
        added, on, off = s["added_ms"], s["by_mode"]["on"], s["by_mode"]["off"]
        lines.append(
            f"| {s['name']} | "
            + " | ".join(f"{added[g]:+.4f}" for g in (*GROUPS, "total"))
            + f" | {off['loop_switches']:.2f} → {on['loop_switches']:.2f} | {off['req_per_s']:.0f} → {on['req_per_s']:.0f} |"
        )
    rows = summary["rows"]
    lines += [
        "",
        f"Rows in the 'on' gateway's log / requests it served: {rows['rows']}/{rows['served']}; "
        f"successful requests' rows with a body: {rows['bodies_on_success']} (errors-only keeps none).",
    ]
    if not summary["writer_found"]:
        lines.append("The writer thread was not found by name (py-spy missing?): its CPU is under 'other'.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.log_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, help="seconds per run (default 3; --quick 2)")
    parser.add_argument("--pairs", type=int, help="on/off pairs per scenario (default 7; --quick 2)")
    parser.add_argument("--quick", action="store_true", help="2 pairs of 2-second runs")
    parser.add_argument("--json", type=Path, help="also write the summary (and every run) here")
    args = parser.parse_args(argv)
    duration = args.duration or (2.0 if args.quick else 3.0)
    pairs = args.pairs or (2 if args.quick else 7)
    summary = summarize(run(duration, pairs))
    print(format_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    rows = summary["rows"]
    return 0 if rows["rows"] == rows["served"] and rows["bodies_on_success"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
