"""The SQLite log writer of two source trees, paired: the same minutes of this noisy VM for both.

    python -m bench.writer_pairs /tmp/before          # this tree against a checkout in /tmp/before
    python -m bench.writer_pairs /tmp/before --rounds 12 --chunk 4000 --json pairs.json

``bench.store writer`` runs one tree for ~10 s at a time, and this VM's speed moves by a third from
one minute to the next: two trees run one after the other differ by more than most changes. Here
each tree runs in its own process, with its own writer (full capture, Codex sessions as in
``bench.store``: ``chunk × rounds`` records each, built before the first round), and the two take
turns: a round submits the next ``--chunk`` records to one writer and waits until they are
committed, then the same for the other (the order alternating, ABBA). Only one writer works at a
time. Per round it reports rows/s and the process's CPU per row (with the render and database
threads' own); the figure to read is the median of the per-round ratios this tree / the other,
with their range. An A/A run (the same tree twice) shows what this VM leaves of the noise: five
of them gave medians from 0.91 to 1.17, so one run proves little; compare several.

The other tree must have the same ``bench`` package interface (``bench.store._policy`` and
``writer_records``) and a ``SqliteStore``: any checkout since the writer's two threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent


def _worker(chunk: int, rounds: int, out: TextIO) -> None:
    """Runs in each tree's own process (``sys.path`` starts with that tree): a round per stdin line."""
    from bench.store import _policy, writer_records
    from mimo2codex.store.sqlite import SqliteStore

    records = writer_records("sessions", chunk * rounds)
    with tempfile.TemporaryDirectory() as workdir:
        store = SqliteStore(Path(workdir) / "data.db", policy=_policy("full"), queue_size=chunk + 1)
        store.open()
        out.write("ready\n")
        out.flush()
        at = 0
        for _ in sys.stdin:
            part = records[at : at + chunk]
            at += chunk
            before = store.state()  # its written count and the two threads' own CPU counts
            t0, cpu0 = time.perf_counter(), time.process_time()
            for record in part:
                store.submit(record)
            if not store.flush(600):
                raise SystemExit("the writer did not finish")
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            after = store.state()
            if (after.written - before.written, after.dropped - before.dropped) != (len(part), 0):
                raise SystemExit(f"the writer lost rows: {after}")
            figures = {
                "rows_per_s": len(part) / wall,
                "cpu_us_per_row": cpu / len(part) * 1e6,
                "render_cpu_us_per_row": (after.render_seconds - before.render_seconds) / len(part) * 1e6,
                "database_cpu_us_per_row": (after.database_seconds - before.database_seconds) / len(part) * 1e6,
            }
            out.write(json.dumps(figures) + "\n")
            out.flush()
        store.close()


def _start(tree: Path, chunk: int, rounds: int) -> subprocess.Popen[str]:
    # This file is run by path, not imported: the worker's imports (bench.store, mimo2codex) then
    # come from ``tree``, whatever it has of this tool.
    code = (
        f"import runpy, sys; sys.path.insert(0, {str(tree)!r}); "
        f"runpy.run_path({__file__!r})['_worker']({chunk}, {rounds}, sys.stdout)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tree
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit(f"the writer of {tree} did not start")
    return process


def _round(process: subprocess.Popen[str]) -> dict[str, float]:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("go\n")
    process.stdin.flush()
    line = process.stdout.readline()
    if not line:
        raise SystemExit("a writer process ended early")
    figures: dict[str, float] = json.loads(line)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other source tree (a checkout of mimo2codex)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per tree (default 10)")
    parser.add_argument("--chunk", type=int, default=4000, help="records per round (default 4000)")
    parser.add_argument("--json", type=Path, help="write every round's figures here")
    args = parser.parse_args(argv)
    other = args.other.resolve()
    if not (other / "mimo2codex" / "store" / "sqlite.py").is_file():
        parser.error(f"{other} is not a mimo2codex source tree (no mimo2codex/store/sqlite.py)")
    trees = {"other": other, "this": ROOT}
    processes = {name: _start(tree, args.chunk, args.rounds) for name, tree in trees.items()}
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    try:
        for n in range(args.rounds):
            for name in ("other", "this") if n % 2 == 0 else ("this", "other"):
                rounds[name].append(_round(processes[name]))
    finally:
        for process in processes.values():
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
            process.wait()
    for name, tree in trees.items():
        figures = rounds[name]
        rates = " ".join(f"{r['rows_per_s']:,.0f}" for r in figures)
        medians = {key: statistics.median(r[key] for r in figures) for key in figures[0]}
        print(
            f"{name} ({tree}): rows/s {rates} | median {medians['rows_per_s']:,.0f}; CPU per row "
            f"{medians['cpu_us_per_row']:.0f} µs (render {medians['render_cpu_us_per_row']:.0f}, "
            f"database {medians['database_cpu_us_per_row']:.0f})"
        )
    ratios = sorted(b["rows_per_s"] / a["rows_per_s"] for a, b in zip(rounds["other"], rounds["this"], strict=True))
    print(f"rows/s, this / other, per round: median {statistics.median(ratios):.3f} [{ratios[0]:.3f}-{ratios[-1]:.3f}]")
    if args.json:
        args.json.write_text(json.dumps({"trees": {k: str(v) for k, v in trees.items()}, "rounds": rounds}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
