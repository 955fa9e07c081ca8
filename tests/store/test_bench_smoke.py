"""The request-log benchmarks' code paths, with tiny sizes (the benchmarks themselves are not tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import pg_driver, render_processes
from bench.store import Backends, bench_queries, bench_size, writer_runs


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_store_benchmarks_run_on_small_sizes(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    pg_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    with Backends(tmp_path, pg_url) as backends:
        writer = writer_runs(backends, backend, 20, "sessions", runs=2)
        assert [writer[f"run {i}"]["rows"] for i in (1, 2)] == [20, 20]
        assert writer["rows_per_s_best"] >= writer["rows_per_s_median"] > 0
        assert writer["run 1"]["render_cpu_us_per_row"] > 0
        assert writer["run 1"]["database_cpu_us_per_row"] > 0
        sizes = bench_size(backends, backend, 30)
        assert 0 < sizes["off"] <= sizes["errors-only"] < sizes["full"]
        queries = bench_queries(backends, backend, rows=1000, repeat=2, rate=50.0)
        assert queries["traffic"]["dropped"] == 0
        # the generated rollups agree with the generated rows: stats over everything counts them all
        assert queries["stats_check"] == 1000 + queries["traffic"]["written"]
        assert queries["before_agrees"]  # the old read path (bench/store_before.py) answers the same
        assert queries["logs list, newest 50"]["p95_ms"] > 0
        assert queries["admin: dashboard?range=30d"]["p95_ms"] > 0


def test_pg_driver_benchmark_runs(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert pg_driver.main(["--url", postgres_url, "--rows", "400", "--reads", "60", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "write: psycopg COPY binary" in out
    assert "read: asyncpg pool via loop thread" in out


def test_render_processes_experiment_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert render_processes.main(["--sessions", "3", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "writer thread" in out
    assert "2 processes" in out
