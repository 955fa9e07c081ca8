"""What the request log costs a request: the gateway with the log on (the default) and off, in pairs.

    python -m bench.log_overhead                 # about 3.5 minutes: 7 on/off pairs of 3-second runs
    python -m bench.log_overhead --quick         # about 1 minute: 2 pairs of 2-second runs, noisier
    python -m bench.log_overhead --together      # about 2 minutes: both gateways loaded at once

Two gateways run side by side, started as ``bench.run`` starts one (default settings: the log on
with errors-only bodies, SQLite under the data dir), the second with ``MIMO2CODEX_NO_REQUEST_LOG=1``.
Each scenario is measured in short on/off pairs whose order alternates (ABBA: on-off, off-on,
on-off, ...), so that a slow drift of the machine's load falls on both sides alike. The idle
gateway costs ~nothing while the other one is measured (it is measured too).

For each run, between the marks the load generator prints around its measured window:

- the gateway's CPU per request split by thread, from ``/proc/<pid>/task/*/stat`` (utime + stime):
  the event loop (the main thread), the log's threads (``mimo2codex-log-writer`` and its
  ``-db`` thread, found by name with ``py-spy dump``: CPython 3.11 gives threads no OS names),
  and every other thread; and the event loop's context switches per request (waits for the GIL
  show up as voluntary switches, a busy machine as involuntary ones);
- the other load on the machine: the whole machine's CPU (``/proc/stat``) minus the two gateways',
  the fake upstream's, the load generator's and this process's own, in cores.

Per scenario it reports the median of the per-pair ratios on/off (total CPU per request, and the
event loop's alone) with their spread, what the log adds per request split by thread (median of the
per-pair differences), and the p50 added (median of the per-pair differences, with their spread).
The target of issue 8 is a total ratio of at most 1.15 and an unchanged p50.

``--together`` loads both gateways of a pair at the same time instead (one load generator each), so
that both see the same machine in the same seconds; the regime is heavier (two gateways and two load
generators on the cores) but the comparison is fair, and an A/A run (both gateways alike) gives ~1.0.

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
import threading
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
#: what each gateway's health document says of its store (checked before measuring)
STORE_STATUS = {"on": "ok", "off": "disabled"}
#: the log's threads are named so (``mimo2codex-log-writer`` renders, ``mimo2codex-log-writer-db`` writes)
LOG_THREADS = "mimo2codex-log-writer"
#: how a gateway's threads are grouped: the event loop (main thread), the log's threads, the rest
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
    return "writer" if names.get(tid, "").startswith(LOG_THREADS) else "other"


def grouped(before: dict[int, float], after: dict[int, float], pid: int, names: dict[int, str]) -> dict[str, float]:
    """CPU seconds per thread group between two :func:`thread_cpu_seconds` readings."""
    out = dict.fromkeys(GROUPS, 0.0)
    for tid, seconds in after.items():
        out[group_of(tid, pid, names)] += seconds - before.get(tid, 0.0)
    return out


def load_command(gateway: Gateway, sc: Scenario) -> list[str]:
    warmup = max(20, sc.concurrency * 2)
    cmd = [sys.executable, "-m", "bench.load", "--base", gateway.base, "--target", "responses", "--json", "--marks"]
    cmd += ["--stream" if sc.stream else "--no-stream", "-c", str(sc.concurrency), "--timeout", "60"]
    return [*cmd, "--duration", str(sc.duration_s), "--warmup", str(warmup), "--stagger", str(sc.stagger_s)]


@dataclass(frozen=True, slots=True)
class Machine:
    """What every process of the benchmark and the machine used, read at the edges of a window."""

    gateways_s: float
    upstream_s: float
    machine_s: float
    own_s: float  # this process
    at: float

    @classmethod
    def take(cls, gateway_pids: list[int], upstream_pid: int) -> Machine:
        return cls(
            cpu_seconds(gateway_pids),
            cpu_seconds([upstream_pid]),
            machine_busy_seconds(),
            time.process_time(),
            time.perf_counter(),
        )


class Window:
    """The measured window of one or more load generators running at once: each gateway's threads
    are read at its own load's marks, the machine at the first start and the last end."""

    def __init__(self, gateway_pids: list[int], upstream_pid: int, loads: int) -> None:
        self._pids, self._upstream, self._loads = gateway_pids, upstream_pid, loads
        self._lock = threading.Lock()
        self._started = self._ended = 0
        self.first: Machine | None = None
        self.last: Machine | None = None

    def mark(self, line: str) -> None:
        with self._lock:
            if line == MARK_START:
                self._started += 1
                if self._started == 1:
                    self.first = Machine.take(self._pids, self._upstream)
            else:
                self._ended += 1
                if self._ended == self._loads:
                    self.last = Machine.take(self._pids, self._upstream)


class LoadRun:
    """``bench.load`` against one gateway, its threads read at the load's marks (in a thread of its own,
    so that several run at once)."""

    def __init__(self, gateway: Gateway, sc: Scenario, window: Window) -> None:
        self.gateway, self.window = gateway, window
        self.marks: list[tuple[dict[int, float], tuple[int, int]]] = []
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            load_command(gateway, sc), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        pid = self.gateway.proc.pid
        for raw in self.proc.stdout:
            line = raw.strip()
            if line in (MARK_START, MARK_END):
                self.marks.append((thread_cpu_seconds(pid), thread_switches(pid).get(pid, (0, 0))))
                self.window.mark(line)
            elif line:
                self.lines.append(line)

    def result(self, label: str) -> dict[str, Any]:
        self.proc.wait(timeout=120)
        self._reader.join(10)
        if len(self.marks) != 2 or not self.lines:
            error = self.proc.stderr.read()[-2000:] if self.proc.stderr else ""
            raise RuntimeError(f"bench.load failed ({self.proc.returncode}) in {label}: {error}")
        load: dict[str, Any] = json.loads(self.lines[-1])
        if load["ok"] != load["requests"]:
            raise RuntimeError(f"{load['requests'] - load['ok']} requests failed in {label}: {load['errors']}")
        return load


def measure(
    targets: Sequence[tuple[str, Gateway]],
    gateways: Sequence[Gateway],
    names: dict[str, dict[int, str]],
    sc: Scenario,
    upstream_pid: int,
    pair: int,
) -> list[Run]:
    """Load each gateway of ``targets`` (mode, gateway) at once, for ``sc``; ``gateways`` are all the
    gateways running (those not loaded are idle, and measured as such)."""
    window = Window([gw.proc.pid for gw in gateways], upstream_pid, len(targets))
    runs = [LoadRun(gateway, sc, window) for _, gateway in targets]
    loads = [run.result(f"{sc.name}, log {mode}") for (mode, _), run in zip(targets, runs, strict=True)]
    first, last = window.first, window.last
    assert first is not None
    assert last is not None
    span = max(1e-9, last.at - first.at)
    measured = 0.0
    out: list[Run] = []
    for (mode, gateway), run, load in zip(targets, runs, loads, strict=True):
        (threads0, switches0), (threads1, switches1) = run.marks
        pid = gateway.proc.pid
        threads = grouped(threads0, threads1, pid, names[mode])
        measured += sum(threads.values())
        per = max(1, int(load["requests"]))
        out.append(
            Run(
                scenario=sc.key,
                mode=mode,
                pair=pair,
                requests=int(load["requests"]),
                elapsed_s=float(load["elapsed_s"]),
                p50_ms=float(load["p50_ms"]),
                cpu_ms={group: seconds * 1000 / per for group, seconds in threads.items()},
                loop_switches=((switches1[0] - switches0[0]) / per, (switches1[1] - switches0[1]) / per),
                other_cores=0.0,
                idle_gateway_cores=0.0,
                load_cores=float(load["cpu_s"]) / float(load["elapsed_s"]),
                upstream_cores=(last.upstream_s - first.upstream_s) / span,
            )
        )
    loads_s = sum(float(load["cpu_s"]) for load in loads)
    gateways_s = last.gateways_s - first.gateways_s
    ours = gateways_s + (last.upstream_s - first.upstream_s) + loads_s + (last.own_s - first.own_s)
    other = max(0.0, (last.machine_s - first.machine_s) - ours) / span
    for r in out:
        r.other_cores = other
        r.idle_gateway_cores = max(0.0, gateways_s - measured) / span
    return out


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
    #: both gateways loaded at once in each pair (``--together``), or one after the other
    together: bool
    runs: list[Run] = field(default_factory=list)
    #: requests the "on" gateway served (warmups included) and the rows its log holds at the end
    served: int = 0
    rows: int = 0
    bodies_on_success: int = 0
    #: whether the writer thread was found by name (else it counts under "other")
    writer_found: bool = False
    started: float = field(default_factory=time.time)
    seconds: float = 0.0


def run(duration_s: float, pairs: int, only: Sequence[str] = (), together: bool = False) -> Report:
    cases = [sc for sc in scenarios(duration_s) if not only or sc.key in only]
    report = Report(cases, pairs, together)
    upstream, up_port = start_upstream()
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mimo2codex-logbench-")))
            gateways: dict[str, Gateway] = {}
            for mode, env in MODES.items():
                (tmp / mode).mkdir()
                gateways[mode] = stack.enter_context(running_gateway(up_port, tmp / mode, extra_env=env))
            for mode, gateway in gateways.items():
                if (status := _store_status(gateway)) != STORE_STATUS[mode]:
                    raise RuntimeError(f"the log-{mode} gateway's store is {status!r}, not {STORE_STATUS[mode]!r}")
            names = {mode: python_thread_names(gw.proc.pid) or {} for mode, gw in gateways.items()}
            report.writer_found = any(name.startswith(LOG_THREADS) for name in names["on"].values())
            if not report.writer_found:
                print("warning: py-spy could not name the threads: the writer counts under 'other'", file=sys.stderr)
            time.sleep(0.5)
            every = list(gateways.values())
            for pair, order in enumerate(pair_orders(pairs)):
                for sc in cases:
                    set_shape(up_port, sc.shape)
                    # together: both loads at once (started in ABBA order); else one after the other
                    steps = [order] if together else [(mode,) for mode in order]
                    for step in steps:
                        runs = measure([(m, gateways[m]) for m in step], every, names, sc, upstream.pid, pair)
                        for r in runs:
                            report.runs.append(r)
                            if r.mode == "on":
                                report.served += r.requests + max(20, sc.concurrency * 2)  # the warmup is logged too
                            _progress(r, sc)
                        _refresh_names(gateways, names)
                        time.sleep(SETTLE_S)
            _stop(gateways["on"].proc)  # a clean shutdown flushes the writer's queue
            report.rows, report.bodies_on_success = _log_rows(tmp / "on" / "data" / "data.db")
    finally:
        _stop(upstream)
    report.seconds = time.time() - report.started
    return report


def _refresh_names(gateways: dict[str, Gateway], names: dict[str, dict[int, str]]) -> None:
    """Name the threads started since the names were read (between runs: py-spy pauses the process)."""
    for mode, gateway in gateways.items():
        if set(thread_cpu_seconds(gateway.proc.pid)) - set(names[mode]):
            names[mode] = python_thread_names(gateway.proc.pid) or names[mode]


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
    out: dict[str, Any] = {
        "pairs": report.pairs,
        "together": report.together,
        "seconds": round(report.seconds, 1),
        "scenarios": {},
    }
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
        f"{summary['pairs']} on/off pairs per scenario (ABBA order"
        f"{', both loaded at once' if summary['together'] else ''}), {summary['seconds']:.0f} s in all. "
        "CPU in ms per request, medians over the runs; ratios and differences: medians over the pairs.",
        "",
        "| scenario | CPU off → on (loop + log threads + other) | ratio on/off [min–max] (target ≤ 1.15) "
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
        "| scenario | event loop | log threads | other threads | total | loop context switches/req, off → on "
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
    parser.add_argument(
        "--together",
        action="store_true",
        help="load both gateways at once in each pair (same machine conditions for both; see the docstring)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[sc.key for sc in scenarios(1.0)],
        help="measure this scenario only (repeatable; default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write the summary (and every run) here")
    args = parser.parse_args(argv)
    duration = args.duration or (2.0 if args.quick else 3.0)
    pairs = args.pairs or (2 if args.quick else 7)
    summary = summarize(run(duration, pairs, args.only or (), args.together))
    print(format_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    rows = summary["rows"]
    return 0 if rows["rows"] == rows["served"] and rows["bodies_on_success"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
