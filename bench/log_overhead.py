"""What the request log costs a request: the gateway with the log on (the default) and off, same run.

    python -m bench.log_overhead                 # about 3 minutes
    python -m bench.log_overhead --quick         # about 1 minute, noisier

The gateway starts as ``bench.run`` starts it (default settings, so the log is on with errors-only
bodies, SQLite under the data dir), then again with ``MIMO2CODEX_NO_REQUEST_LOG=1``. Rounds
alternate which one goes first. Per scenario it reports the gateway's CPU per request (its process,
the writer thread included) with and without the log, their ratio, and the p50 latency with and
without. The figures are the medians over the rounds. Issue 8's targets: CPU with the log at most
1.15× without, and the p50 at c=1 unchanged beyond the noise (the spread between rounds is printed
beside it).

After each "on" run the rows the log wrote are counted, so a log that silently drops rows does not
pass for a cheap one.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.processes import set_shape, start_upstream
from bench.run import Scenario, _stop, measure, running_gateway

MODES: dict[str, dict[str, str]] = {"on": {}, "off": {"MIMO2CODEX_NO_REQUEST_LOG": "1"}}


def scenarios(duration_s: float) -> list[Scenario]:
    return [
        Scenario("nonstream", "non-stream, c=64", False, 64, duration_s, stagger_s=0.25),
        Scenario("stream", "stream 100 chunks, c=64", True, 64, duration_s, stagger_s=0.25),
        Scenario("nonstream_c1", "non-stream, c=1", False, 1, max(3.0, duration_s / 2)),
    ]


def _rows_in(data_dir: Path) -> int:
    path = data_dir / "data.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM chat_logs").fetchone()[0])
    finally:
        conn.close()


def run(duration_s: float, rounds: int) -> dict[str, Any]:
    upstream, up_port = start_upstream()
    cases = scenarios(duration_s)
    # results[mode][scenario] -> list of (cpu ms/req, p50 ms, requests) over the rounds
    results: dict[str, dict[str, list[tuple[float, float, int]]]] = {m: {sc.key: [] for sc in cases} for m in MODES}
    logged: list[tuple[int, int]] = []
    try:
        for round_ in range(rounds):
            order = list(MODES) if round_ % 2 == 0 else list(reversed(MODES))
            for mode in order:
                with tempfile.TemporaryDirectory(prefix="mimo2codex-logbench-") as tmp:
                    served = 0
                    with running_gateway(up_port, Path(tmp), extra_env=MODES[mode]) as gateway:
                        time.sleep(0.5)
                        for sc in cases:
                            set_shape(up_port, sc.shape)
                            m = measure(gateway.base, "responses", sc, watch=gateway.pids, upstream_pid=upstream.pid)
                            requests = int(m.load["requests"])
                            served += requests + max(20, sc.concurrency * 2)  # the warmup is logged too
                            results[mode][sc.key].append(
                                (m.cpu_s * 1000 / max(1, requests), m.load["p50_ms"], requests)
                            )
                            print(
                                f"round {round_ + 1} log {mode:3} {sc.name:26} cpu {m.cpu_s * 1000 / max(1, requests):.3f} ms/req"
                                f"  p50 {m.load['p50_ms']:.2f} ms  other load {m.other_cores:.2f}",
                                file=sys.stderr,
                            )
                    if mode == "on":
                        logged.append((served, _rows_in(Path(tmp) / "data")))
    finally:
        _stop(upstream)
    return {"scenarios": cases, "results": results, "logged": logged, "rounds": rounds}


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sc in report["scenarios"]:
        on = report["results"]["on"][sc.key]
        off = report["results"]["off"][sc.key]
        cpu_on, cpu_off = statistics.median(r[0] for r in on), statistics.median(r[0] for r in off)
        p50_on, p50_off = statistics.median(r[1] for r in on), statistics.median(r[1] for r in off)
        spread = max(r[1] for r in off) - min(r[1] for r in off) if len(off) > 1 else float("nan")
        out[sc.key] = {
            "name": sc.name,
            "cpu_ms_on": cpu_on,
            "cpu_ms_off": cpu_off,
            "cpu_ratio": cpu_on / cpu_off if cpu_off else float("nan"),
            "p50_ms_on": p50_on,
            "p50_ms_off": p50_off,
            "p50_spread_off": spread,
        }
    out["logged"] = [{"served": s, "rows": r} for s, r in report["logged"]]
    return out


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        "| scenario | CPU ms/req, log off → on | ratio (target ≤ 1.15) | p50 ms, log off → on | p50 spread between rounds, off |",
        "|---|---|---|---|---|",
    ]
    for key, s in summary.items():
        if key == "logged":
            continue
        lines.append(
            f"| {s['name']} | {s['cpu_ms_off']:.3f} → {s['cpu_ms_on']:.3f} | {s['cpu_ratio']:.3f}× "
            f"| {s['p50_ms_off']:.2f} → {s['p50_ms_on']:.2f} | {s['p50_spread_off']:.2f} |"
        )
    logged = ", ".join(f"{x['rows']}/{x['served']}" for x in summary["logged"])
    lines += ["", f"Rows in the log after each 'on' run / requests served: {logged}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.log_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per throughput run (default 8)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3-second runs, one round")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    report = run(3.0 if args.quick else args.duration, 1 if args.quick else args.rounds)
    summary = summarize(report)
    print(format_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
