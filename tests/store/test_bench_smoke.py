"""The request-log benchmarks' code paths, with tiny sizes (the benchmarks themselves are not tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import pg_driver, render_processes, writer_pairs
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


def test_writer_pairs_runs_two_trees_in_turns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = Path(writer_pairs.__file__).resolve().parent.parent
    out_json = tmp_path / "pairs.json"
    assert writer_pairs.main([str(tree), "--rounds", "2", "--chunk", "40", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "rows/s, this / other, per round: median" in out
    rounds = json.loads(out_json.read_text())["rounds"]
    assert [len(rounds[name]) for name in ("other", "this")] == [2, 2]
    assert all(r["rows_per_s"] > 0 and r["render_cpu_us_per_row"] > 0 for name in rounds for r in rounds[name])


def test_writer_pairs_refuses_a_directory_that_is_not_a_source_tree(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        writer_pairs.main([str(tmp_path)])
    assert exc.value.code == 2
