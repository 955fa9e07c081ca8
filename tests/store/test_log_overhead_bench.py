"""``bench.log_overhead``'s arithmetic: ABBA order, threads grouped by name, per-pair ratios and medians.

The benchmark itself (two gateways under load for minutes) is not a test; its summary is.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from bench.log_overhead import Report, Run, grouped, pair_orders, scenarios, summarize
from bench.processes import thread_cpu_seconds, thread_switches


def run(mode: str, pair: int, loop: float, writer: float = 0.0, p50: float = 1.0, other: float = 0.0) -> Run:
    return Run(
        scenario="nonstream",
        mode=mode,
        pair=pair,
        requests=1000,
        elapsed_s=2.0,
        p50_ms=p50,
        cpu_ms={"loop": loop, "writer": writer, "other": 0.0},
        loop_switches=(0.1, 0.2),
        other_cores=other,
        idle_gateway_cores=0.0,
        load_cores=0.3,
        upstream_cores=0.2,
    )


def test_pairs_alternate_abba() -> None:
    orders = list(pair_orders(4))
    assert orders == [("on", "off"), ("off", "on"), ("on", "off"), ("off", "on")]
    # each side goes first as often as the other
    assert sum(order[0] == "on" for order in orders) == 2


def test_threads_are_grouped_by_name() -> None:
    names = {10: "MainThread", 11: "mimo2codex-log-writer", 12: "mimo2codex-log-writer-render", 13: "AnyIO worker"}
    before = {10: 1.0, 11: 0.5, 12: 0.25, 13: 0.0}
    after = {10: 3.0, 11: 0.75, 12: 0.5, 13: 0.125, 14: 0.0625}  # 14 started meanwhile, unnamed
    assert grouped(before, after, 10, names) == {"loop": 2.0, "writer": 0.5, "other": 0.1875}


def test_summary_takes_the_median_of_the_per_pair_ratios() -> None:
    nonstream = [sc for sc in scenarios(1.0) if sc.key == "nonstream"]
    report = Report(nonstream, pairs=3, together=False)
    # pair 1 disturbed (both sides slow, other load), the others quiet: the per-pair ratio cancels
    # the disturbance, and one wild pair does not move the median
    report.runs = [
        run("on", 0, 2.2, 0.1, p50=2.0, other=1.0),
        run("off", 0, 2.0, p50=1.8, other=1.0),
        run("off", 1, 1.0, p50=1.0),
        run("on", 1, 1.0, 0.05, p50=1.1),
        run("on", 2, 1.5, 0.05, p50=1.2),
        run("off", 2, 1.0, p50=1.0),
    ]
    out = summarize(report)["scenarios"]["nonstream"]
    ratios = sorted([2.3 / 2.0, 1.05 / 1.0, 1.55 / 1.0])
    assert out["ratio"]["median"] == pytest.approx(ratios[1])
    assert (out["ratio"]["min"], out["ratio"]["max"]) == pytest.approx((ratios[0], ratios[2]))
    assert out["quiet_pairs"] == 2
    assert out["quiet_ratio"] == pytest.approx((1.05 + 1.55) / 2)
    assert out["added_ms"]["writer"] == pytest.approx(0.05)
    assert out["added_p50_ms"]["median"] == pytest.approx(0.2)
    assert out["by_mode"]["off"]["total"] == pytest.approx(1.0)


def test_thread_readings_of_this_process() -> None:
    """Each thread's own CPU and context switches, keyed by its thread id."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    worker = threading.Thread(target=spin)
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while thread_cpu_seconds(os.getpid()).get(worker.native_id or 0, 0.0) == 0.0:
            assert time.monotonic() < deadline, "the spinning thread never showed any CPU"
            time.sleep(0.01)
        switches = thread_switches(os.getpid())
    finally:
        stop.set()
        worker.join()
    assert {os.getpid(), worker.native_id} <= set(switches)
    assert sum(switches[os.getpid()]) > 0  # the main thread slept above
