"""One command: the full benchmark matrix, the gateway beside the direct baseline, checked against the targets.

    python -m bench.run                  # about 3 minutes: the full matrix (issue 5's targets)
    python -m bench.run --quick          # about 1 minute, shorter runs (a smoke test, noisier)
    python -m bench.run --out /tmp/bench.md --json /tmp/bench.json

Steps:
1. Start the fake upstream (``bench.fake_upstream``) in its own process.
2. For each scenario, measure the baseline: ``bench.load --target direct`` sends the equivalent Chat
   request straight to the upstream.
3. Start the gateway as users do (``python -m mimo2codex``): default settings, one worker, request
   logging on (one line per request, to a file, and a row per request in the request log's SQLite
   database, errors-only bodies: the defaults), isolated HOME and data dir.
4. For each scenario, measure the gateway: ``bench.load --target responses`` sends the Codex fixture
   request with Codex's headers. Each load process warms its connections first; the gateway's CPU time
   (``/proc/<pid>/stat`` utime + stime, its worker processes included) and RSS are taken between the
   marks the load generator prints around its measured run.
5. Start the gateway again with ``--workers 2`` and measure the throughput scenarios once more.

The scenarios:
- non-stream, c=64: CPU per request, throughput;
- a 100-chunk stream sent in one burst, c=64: CPU per stream, throughput;
- a 100-chunk stream paced 10 ms apart (how a model streams), c=64: the p50 ratio to direct;
- non-stream, c=1: the p50 latency the gateway adds;
- a 20-chunk stream paced 2 ms apart, c=1: the time to first event (and first token) the gateway adds;
- a 100-chunk stream, c=32: the gateway's RSS under load;
- non-stream and 100-chunk stream at c=64 with ``--workers 2``: throughput scaling.

It prints three tables: what the gateway adds (direct -> gateway in each cell), the targets of issue 5
(met or not), and the ``--workers`` scaling with the CPU each process used. The exit status is 1 if
any gateway request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import MARK_END, MARK_START
from bench.processes import free_port, set_shape, start_upstream, tail, vm_hwm_mb

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    name: str
    stream: bool
    concurrency: int
    duration_s: float
    chunks: int = 100
    pace_ms: float = 0.0
    #: spread the clients' starts over this many seconds (``bench.load --stagger``)
    stagger_s: float = 0.0

    @property
    def shape(self) -> dict[str, Any]:
        return {"chunks": self.chunks, "pace_ms": self.pace_ms}


def scenarios(duration_s: float) -> list[Scenario]:
    short = max(3.0, duration_s / 2)
    # Clients connect over a quarter of a second, not in the same millisecond: with --workers, the
    # worker that wakes first would otherwise accept every connection of the burst, and keep them.
    spread = 0.25
    return [
        Scenario("nonstream", "non-stream, c=64", False, 64, duration_s, stagger_s=spread),
        Scenario("stream", "stream 100 chunks, c=64", True, 64, duration_s, stagger_s=spread),
        # Each paced stream lasts ~1 s: give it time for a few hundred. Equal-length streams started
        # together stay in lockstep, 64 requests arriving in the same millisecond every second, which
        # no set of Codex users does: the clients' starts are spread over one stream's length.
        Scenario(
            "paced",
            "stream 100 chunks paced 10 ms, c=64",
            True,
            64,
            max(duration_s, 6.0),
            pace_ms=10.0,
            stagger_s=1.0,
        ),
        Scenario("nonstream_c1", "non-stream, c=1", False, 1, short),
        Scenario("stream_c1", "stream 20 chunks paced 2 ms, c=1", True, 1, short, chunks=20, pace_ms=2.0),
        Scenario("stream_c32", "stream 100 chunks, c=32", True, 32, short, stagger_s=spread),
    ]


WORKER_SCENARIOS = ("nonstream", "stream")

# issue 5's targets, in the order the report lists them: (key in target_values(), label)
TARGETS: tuple[tuple[str, str], ...] = (
    ("cpu_nonstream", "CPU per non-streamed request (c=64) ≤ 1.0 ms"),
    ("cpu_stream", "CPU per 100-chunk stream (c=64) ≤ 1.5 ms"),
    ("added_p50_c1", "added p50, non-stream, c=1 ≤ 0.5 ms"),
    ("added_ttfe_c1", "added time to first event, stream, c=1 ≤ 1 ms"),
    ("paced_ratio", "paced streams (10 ms), c=64: p50 ≤ 1.02× direct"),
    ("rss_idle", "RSS idle ≤ 60 MiB"),
    ("rss_c32", "RSS at c=32 ≤ 150 MiB"),
    ("workers_scaling", "--workers 2 throughput ≥ 1.7× one worker"),
)


# -- processes ----------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the ``--workers`` processes and multiprocessing's helper)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of processes (all their threads), from /proc; a process that is gone counts 0."""
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return total / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (the first line of /proc/stat, idle excluded)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
    return total * PAGE / 2**20


def serving_pids(root: int) -> list[int]:
    """The processes that serve requests: the workers with ``--workers N``, else the process itself."""
    tree = process_tree(root)
    workers = [pid for pid in tree[1:] if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    return workers or [root]


class RssSampler:
    """Samples the summed RSS of some processes every 50 ms in a thread; ``peak`` is the largest sample."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pids))
            self._stop.wait(0.05)


@dataclass(slots=True)
class Gateway:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    workers: int
    #: the processes serving requests (the workers, or the process itself)
    pids: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def all_pids(self) -> list[int]:
        return process_tree(self.proc.pid)


#: where ``python -m mimo2codex`` runs from: this checkout, or another one (``--gateway-root``)
GATEWAY_ROOT = ROOT


def start_gateway(
    upstream_port: int, workdir: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Gateway:
    """``python -m mimo2codex`` with default settings, the fake as its only (generic) provider.

    ``extra_env`` changes a setting (``bench.log_overhead`` turns the request log off with it)."""
    port = free_port()
    log = workdir / f"gateway-{workers}.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(workdir),  # no user config or other providers' keys leak into the measurement
        "GENERIC_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "GENERIC_API_KEY": "bench",
        "GENERIC_DEFAULT_MODEL": "mimo-v2.5-pro",
        "MIMO2CODEX_DEFAULT_PROVIDER": "generic",
        "MIMO2CODEX_PORT": str(port),
        "MIMO2CODEX_DATA_DIR": str(workdir / "data"),
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "mimo2codex"] + (["--workers", str(workers)] if workers > 1 else [])
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=GATEWAY_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    gateway = Gateway(proc, port, log, workers)
    deadline = time.monotonic() + 30
    while log.read_text(errors="replace").count("Application startup complete.") < workers:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"gateway did not start within 30 s:\n{tail(log)}")
        time.sleep(0.05)
    gateway.pids = serving_pids(proc.pid)
    return gateway


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_gateway(
    upstream_port: int, workdir: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[Gateway]:
    gateway = start_gateway(upstream_port, workdir, workers, extra_env)
    try:
        yield gateway
    finally:
        _stop(gateway.proc)


# -- measuring ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Measured:
    load: dict[str, Any]
    #: CPU seconds between the marks: the measured processes, and the fake upstream
    cpu_s: float = 0.0
    upstream_cpu_s: float = 0.0
    rss_peak_mb: float = 0.0
    #: CPU seconds the whole machine used between the marks
    machine_cpu_s: float = 0.0
    #: CPU seconds of each watched process between the marks (how the workers shared the load)
    per_process_cpu_s: list[float] = field(default_factory=list)

    @property
    def other_cores(self) -> float:
        """Cores used by processes outside the benchmark (noise: another job on the machine)."""
        ours = self.cpu_s + self.upstream_cpu_s + float(self.load.get("cpu_s", 0.0))
        return max(0.0, self.machine_cpu_s - ours) / max(1e-9, float(self.load["elapsed_s"]))


def measure(
    base: str, target: str, sc: Scenario, *, watch: list[int] | None = None, upstream_pid: int | None = None
) -> Measured:
    """Run ``bench.load`` for ``sc`` and measure ``watch`` (pids) between its marks."""
    warmup = max(20, sc.concurrency * 2)
    cmd = [sys.executable, "-m", "bench.load", "--base", base, "--target", target, "--json", "--marks"]
    cmd += ["--stream" if sc.stream else "--no-stream", "-c", str(sc.concurrency), "--timeout", "60"]
    cmd += ["--duration", str(sc.duration_s), "--warmup", str(warmup), "--stagger", str(sc.stagger_s)]
    watched = watch or []
    upstream = [upstream_pid] if upstream_pid else []
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    sampler = RssSampler(watched)
    cpu0 = up0 = busy0 = 0.0
    each0: list[float] = []
    result: Measured | None = None
    lines: list[str] = []
    for line in proc.stdout:
        line = line.strip()
        if line == MARK_START:
            cpu0, up0, busy0 = cpu_seconds(watched), cpu_seconds(upstream), machine_busy_seconds()
            each0 = [cpu_seconds([pid]) for pid in watched]
            if watched:
                sampler.start()
        elif line == MARK_END:
            sampler.stop()
            result = Measured(
                {},
                cpu_seconds(watched) - cpu0,
                cpu_seconds(upstream) - up0,
                sampler.peak,
                machine_busy_seconds() - busy0,
                [cpu_seconds([pid]) - before for pid, before in zip(watched, each0, strict=True)],
            )
        elif line:
            lines.append(line)
    proc.wait(timeout=120)
    sampler.stop()
    if result is None or not lines:
        raise RuntimeError(
            f"bench.load failed ({proc.returncode}): {proc.stderr.read()[-2000:] if proc.stderr else ''}"
        )
    result.load = json.loads(lines[-1])
    return result


@dataclass(slots=True)
class Row:
    scenario: Scenario
    direct: Measured
    gateway: Measured
    workers: int = 1
    #: CPU seconds of each worker process (``--workers`` rows)
    worker_cpu_s: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return max(1, int(self.gateway.load["requests"]))

    @property
    def cpu_ms_per_req(self) -> float:
        return self.gateway.cpu_s * 1000 / self.requests

    @property
    def cores(self) -> float:
        return self.gateway.cpu_s / float(self.gateway.load["elapsed_s"])

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "key": self.scenario.key,
            "workers": self.workers,
            "direct": self.direct.load,
            "gateway": self.gateway.load,
            "gateway_cpu_ms_per_req": self.cpu_ms_per_req,
            "gateway_cores": self.cores,
            "upstream_cpu_s": self.gateway.upstream_cpu_s,
            "rss_peak_mb": self.gateway.rss_peak_mb,
            "other_cores": {"direct": self.direct.other_cores, "gateway": self.gateway.other_cores},
            "worker_cpu_s": self.worker_cpu_s,
        }


def run(duration_s: float, workers: int) -> dict[str, Any]:
    started = time.monotonic()
    upstream, up_port = start_upstream()
    direct_base = f"http://127.0.0.1:{up_port}"
    all_scenarios = scenarios(duration_s)
    rows: list[Row] = []
    worker_rows: list[Row] = []
    report: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        baselines: dict[str, Measured] = {}
        for sc in all_scenarios:
            set_shape(up_port, sc.shape)
            baselines[sc.key] = measure(direct_base, "direct", sc, upstream_pid=upstream.pid)
            _progress("direct", sc, baselines[sc.key])

        with tempfile.TemporaryDirectory(prefix="mimo2codex-bench-") as tmp:
            with running_gateway(up_port, Path(tmp)) as gateway:
                time.sleep(1.0)
                report["rss_idle_mb"] = rss_mb(gateway.pids)
                for sc in all_scenarios:
                    set_shape(up_port, sc.shape)
                    measured = measure(gateway.base, "responses", sc, watch=gateway.pids, upstream_pid=upstream.pid)
                    rows.append(Row(sc, baselines[sc.key], measured))
                    _progress("gateway", sc, measured)
                if gateway.proc.poll() is not None:
                    raise RuntimeError(f"gateway died during the run:\n{tail(gateway.log)}")
                report["rss_hwm_mb"] = vm_hwm_mb(gateway.pids[0])
                report["rss_after_mb"] = rss_mb(gateway.pids)
                report["gateway_log_errors"] = log_errors(gateway.log)
                report["log_lines"] = _count_request_lines(gateway.log)
            if workers > 1:
                with running_gateway(up_port, Path(tmp), workers) as gateway:
                    time.sleep(1.0)
                    report["workers_rss_idle_mb"] = rss_mb(gateway.all_pids())
                    for sc in (s for s in all_scenarios if s.key in WORKER_SCENARIOS):
                        set_shape(up_port, sc.shape)
                        pids = gateway.all_pids()
                        measured = measure(gateway.base, "responses", sc, watch=pids, upstream_pid=upstream.pid)
                        each = dict(zip(pids, measured.per_process_cpu_s, strict=True))
                        shares = [each.get(pid, 0.0) for pid in gateway.pids]
                        worker_rows.append(Row(sc, baselines[sc.key], measured, workers, shares))
                        _progress(f"workers={workers}", sc, measured)
                    report["workers_log_errors"] = log_errors(gateway.log)
    finally:
        _stop(upstream)
    report["rows"] = rows
    report["worker_rows"] = worker_rows
    report["workers"] = workers
    report["elapsed_s"] = time.monotonic() - started
    return report


def _progress(label: str, sc: Scenario, m: Measured) -> None:
    load = m.load
    extra = f"  cpu {m.cpu_s * 1000 / max(1, load['requests']):.3f} ms/req" if m.cpu_s else ""
    extra += f"  other load {m.other_cores:.2f} cores"
    print(
        f"{label:10} {sc.name:38} {load['req_per_s']:8.1f} req/s  p50 {load['p50_ms']:8.2f} ms"
        f"  ok {load['ok']}/{load['requests']}{extra}",
        file=sys.stderr,
    )


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


def _count_request_lines(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "mimo2codex.requests:" in line)


# -- the report ---------------------------------------------------------------------------------------


def _f(value: float, spec: str = ".1f") -> str:
    return "n/a" if value != value else format(value, spec)  # NaN when no request succeeded


def _pair(direct: float, gateway: float, spec: str = ".1f", added: bool = True) -> str:
    text = f"{_f(direct, spec)} → {_f(gateway, spec)}"
    if added and direct == direct and gateway == gateway:
        text += f" ({gateway - direct:+{spec}})"
    return text


def _by_key(rows: list[Row]) -> dict[str, Row]:
    return {row.scenario.key: row for row in rows}


def target_values(report: dict[str, Any]) -> dict[str, tuple[float, float, str]]:
    """key -> (measured, goal, unit); ratios and sizes compare with <=, scaling with >=."""
    rows = _by_key(report["rows"])
    values: dict[str, tuple[float, float, str]] = {}
    if "nonstream" in rows:
        values["cpu_nonstream"] = (rows["nonstream"].cpu_ms_per_req, 1.0, "ms")
    if "stream" in rows:
        values["cpu_stream"] = (rows["stream"].cpu_ms_per_req, 1.5, "ms")
    if "nonstream_c1" in rows:
        d, g = rows["nonstream_c1"].direct.load, rows["nonstream_c1"].gateway.load
        values["added_p50_c1"] = (g["p50_ms"] - d["p50_ms"], 0.5, "ms")
    if "stream_c1" in rows:
        d, g = rows["stream_c1"].direct.load, rows["stream_c1"].gateway.load
        values["added_ttfe_c1"] = (g["ttfe_p50_ms"] - d["ttfe_p50_ms"], 1.0, "ms")
    if "paced" in rows:
        d, g = rows["paced"].direct.load, rows["paced"].gateway.load
        values["paced_ratio"] = (g["p50_ms"] / d["p50_ms"], 1.02, "×")
    values["rss_idle"] = (report["rss_idle_mb"], 60.0, "MiB")
    if "stream_c32" in rows:
        values["rss_c32"] = (rows["stream_c32"].gateway.rss_peak_mb, 150.0, "MiB")
    scaling = workers_scaling(report)
    if scaling:
        values["workers_scaling"] = (min(s["ratio"] for s in scaling.values()), 1.7, "×")
    return values


def workers_scaling(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per scenario: measured throughput ratio, and the ratio the CPU figures project on free cores.

    On a machine where the load generator and the fake upstream share the cores with the gateway, N
    workers cannot get N cores. The projection assumes each worker gets a core of its own and keeps
    the measured CPU per request: (N / CPU ms per request with N workers) / (1 / CPU ms per request
    with one worker, or the cores one worker actually used if it could not fill one).
    """
    one = _by_key(report["rows"])
    out: dict[str, dict[str, float]] = {}
    for row in report["worker_rows"]:
        single = one.get(row.scenario.key)
        if single is None:
            continue
        rate1, rate_n = single.gateway.load["req_per_s"], row.gateway.load["req_per_s"]
        # requests per second one worker manages on a core of its own, and N workers on N cores
        capacity1 = 1000 / single.cpu_ms_per_req
        capacity_n = row.workers * 1000 / row.cpu_ms_per_req
        out[row.scenario.key] = {
            "ratio": rate_n / rate1 if rate1 else float("nan"),
            "projected": capacity_n / capacity1,
            "cores1": single.cores,
            "cores_n": row.cores,
        }
    return out


def format_report(report: dict[str, Any]) -> str:
    rows: list[Row] = report["rows"]
    lines = [
        f"mimo2codex vs the direct upstream: {report['cpus']} CPUs shared by the load generator, the fake upstream "
        f"and the gateway; Python {report['python']}; default settings, one worker, request logging on.",
        "Cells read direct → gateway (difference). CPU is the gateway process's, per request. Other load: the "
        "cores processes outside the benchmark used during the direct / gateway run (should be ~0).",
        "",
        "| scenario | p50 ms | first event p50 ms | first token p50 ms | req/s | gateway CPU ms/req "
        "| gateway cores | completed | other load, cores |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        d, g = row.direct.load, row.gateway.load
        stream = row.scenario.stream
        errors = ", ".join(f"{k} x{v}" for k, v in g["errors"].items())
        ratio = g["req_per_s"] / d["req_per_s"] if d["req_per_s"] else float("nan")
        lines.append(
            f"| {row.scenario.name} | {_pair(d['p50_ms'], g['p50_ms'], '.2f')} "
            f"| {_pair(d['ttfe_p50_ms'], g['ttfe_p50_ms'], '.2f') if stream else ''} "
            f"| {_pair(d['ttft_p50_ms'], g['ttft_p50_ms'], '.2f') if stream else ''} "
            f"| {d['req_per_s']:.0f} → {g['req_per_s']:.0f} ({_f(ratio, '.2f')}×) "
            f"| {row.cpu_ms_per_req:.3f} | {row.cores:.2f} "
            f"| {g['ok']}/{g['requests']}{' ' + errors if errors else ''} "
            f"| {row.direct.other_cores:.2f} / {row.gateway.other_cores:.2f} |"
        )
    lines += [
        "",
        f"Gateway RSS: idle {report['rss_idle_mb']:.1f} MiB; peak at c=32 "
        f"{_by_key(rows)['stream_c32'].gateway.rss_peak_mb:.1f} MiB; peak over the run (VmHWM) "
        f"{report['rss_hwm_mb']:.1f} MiB; after the run {report['rss_after_mb']:.1f} MiB. "
        f"Request log lines written: {report['log_lines']}.",
    ]
    scaling = workers_scaling(report)
    if scaling:
        n = report["workers"]
        lines += [
            "",
            f"`--workers {n}` (same load; gateway CPU summed over its processes):",
            "",
            f"| scenario | req/s, 1 → {n} workers | measured ratio | gateway cores used, 1 → {n} (per worker) "
            f"| CPU ms/req, 1 → {n} | load generator + fake cores with {n} workers | projected ratio on free cores |",
            "|---|---|---|---|---|---|---|",
        ]
        one = _by_key(rows)
        for row in report["worker_rows"]:
            s = scaling[row.scenario.key]
            single = one[row.scenario.key]
            others = (row.gateway.load.get("cpu_s", 0.0) + row.gateway.upstream_cpu_s) / row.gateway.load["elapsed_s"]
            elapsed = float(row.gateway.load["elapsed_s"])
            shares = " + ".join(f"{cpu / elapsed:.2f}" for cpu in row.worker_cpu_s)
            lines.append(
                f"| {row.scenario.name} | {single.gateway.load['req_per_s']:.0f} → {row.gateway.load['req_per_s']:.0f} "
                f"| {s['ratio']:.2f}× | {s['cores1']:.2f} → {s['cores_n']:.2f} ({shares}) "
                f"| {single.cpu_ms_per_req:.3f} → {row.cpu_ms_per_req:.3f} | {others:.2f} | {s['projected']:.2f}× |"
            )
    values = target_values(report)
    lines += ["", "| target (issue 5) | measured | met |", "|---|---|---|"]
    for key, label in TARGETS:
        if key not in values:
            continue
        measured, goal, unit = values[key]
        met = measured >= goal if key == "workers_scaling" else measured <= goal
        shown = (
            f"{measured:.3f} {unit}"
            if unit == "ms"
            else f"{measured:.2f}{unit}"
            if unit == "×"
            else f"{measured:.1f} {unit}"
        )
        lines.append(f"| {label} | {shown} | {'yes' if met else '**no**'} |")
    log_errors_seen: list[tuple[str, int]] = report.get("gateway_log_errors") or []
    if log_errors_seen:
        lines += ["", "Gateway log errors:", *(f"    {n} x {text}" for text, n in log_errors_seen)]
    lines += ["", f"Matrix run in {report['elapsed_s']:.0f} s."]
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in report.items() if k not in ("rows", "worker_rows")}
    out["rows"] = [row.to_json() for row in report["rows"]]
    out["worker_rows"] = [row.to_json() for row in report["worker_rows"]]
    out["targets"] = {key: {"measured": v[0], "goal": v[1], "unit": v[2]} for key, v in target_values(report).items()}
    out["workers_scaling"] = workers_scaling(report)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per throughput run (default 10)")
    parser.add_argument("--quick", action="store_true", help="3-second runs")
    parser.add_argument("--workers", type=int, default=2, help="workers for the scaling runs (1: skip them)")
    parser.add_argument("--out", type=Path, help="also write the tables (markdown) here")
    parser.add_argument("--json", type=Path, help="also write the full report (JSON) here")
    parser.add_argument(
        "--gateway-root",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="run the gateway from another checkout (e.g. `git worktree` of an older commit) to compare",
    )
    args = parser.parse_args(argv)
    global GATEWAY_ROOT
    GATEWAY_ROOT = args.gateway_root.resolve()
    report = run(3.0 if args.quick else args.duration, args.workers)
    table = format_report(report)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    if args.json:
        args.json.write_text(json.dumps(to_json(report), indent=2) + "\n")
    ok = all(row.gateway.load["all_completed"] for row in report["rows"] + report["worker_rows"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
