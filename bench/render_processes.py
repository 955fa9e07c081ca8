"""An experiment: the log writer rendering in worker processes instead of its own thread (SQLite).

    python -m bench.render_processes [--processes 2] [--rounds 2] [--sessions 1000]

The writer's rendering (redaction, cutting bodies into pieces, digests) runs in Python under the GIL,
and bounds its rows/s with full Codex bodies (bench/store.py ``writer``). This measures what spreading
it over processes would give: the same 20,000 Codex-session records (bench/sessions.py) through the
real :class:`~mimo2codex.store.sqlite.SqliteStore`, once as it is and once with its render step sent
to ``--processes`` workers (``spawn``), records sharded by ``prompt_cache_key`` so that each session's
turns meet the redaction cache that saw its previous turn. A worker renders rows exactly as the
writer does and sends them back with their pieces as (digest, text); the writer thread folds the
rollups and the database thread writes, as before. The two modes alternate, ``--rounds`` times.

Not the product: it reaches into the writer (``_writer._render``) and rebuilds the redaction cache's
pieces with their digests. On the 2-vCPU VM of November 24 the workers did worse than the thread
(bench/README.md): sending a 68 KB request to a worker and its rows back costs the writer's process
about as much as rendering saved it, and the workers need the same two cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import pickle
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.sessions import session_records
from bench.store import _policy, check_bodies, drain
from mimo2codex.store import batch, bodies, levels
from mimo2codex.store.redaction_cache import Piece
from mimo2codex.store.redaction_cache import _session_of as session_of
from mimo2codex.store.sqlite import SqliteStore


def _worker(conn: multiprocessing.connection.Connection) -> None:
    """Render what the writer sends, with a capture policy of its own (its own redaction cache)."""
    from mimo2codex.store.row import record_to_row

    policy = _policy("full")
    while True:
        try:
            records = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        rows = []
        for record in records:
            row = record_to_row(record, policy, "bench")
            pieces = row.pop(bodies.PIECES, None)
            if pieces:
                row[bodies.PIECES] = [(piece.digest, piece.text) for piece in pieces]
            rows.append(row)
        conn.send_bytes(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))


def _piece(digest: bytes, text: str) -> Piece:
    piece = Piece(text)
    piece._digest = digest  # the worker's digest (the same BLAKE2b of the same text)
    return piece


class Workers:
    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns = []
        self.procs = []
        for _ in range(processes):
            ours, theirs = context.Pipe()
            proc = context.Process(target=_worker, args=(theirs,), daemon=True)
            proc.start()
            self.conns.append(ours)
            self.procs.append(proc)

    def render(self, items: Sequence[Any]) -> batch.Batch:
        shards: list[list[Any]] = [[] for _ in self.conns]
        where = []
        for item in items:
            session = session_of(item.request_body) if isinstance(item.request_body, bytes) else None
            shard = hash(session) % len(shards) if session else 0
            where.append((shard, len(shards[shard])))
            shards[shard].append(item)
        for conn, shard_items in zip(self.conns, shards, strict=True):
            conn.send_bytes(pickle.dumps(shard_items, protocol=pickle.HIGHEST_PROTOCOL))
        rendered = [pickle.loads(conn.recv_bytes()) for conn in self.conns]
        rows = []
        for shard, index in where:
            row = rendered[shard][index]
            if pieces := row.get(bodies.PIECES):
                row[bodies.PIECES] = [_piece(digest, text) for digest, text in pieces]
            rows.append(row)
        return batch.Batch(rows=rows, deltas=levels.fold_levels(rows) if rows else {}, responses=[], deletions=[])

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            proc.join(5)


def run(records: list[Any], workdir: Path, processes: int) -> dict[str, float]:
    path = workdir / f"render-{processes}-{time.monotonic_ns()}.db"
    store = SqliteStore(path, policy=_policy("full"), queue_size=len(records) + 1)
    workers = Workers(processes) if processes else None
    if workers is not None:
        store._writer._render = workers.render
    store.open()
    try:
        wall, cpu = drain(store, records)
        check_bodies(store, records, (1, len(records)))
    finally:
        store.close()
        if workers is not None:
            workers.close()
    n = len(records)
    return {"rows_per_s": n / wall, "writer_process_cpu_us_per_row": cpu / n * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.render_processes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=1000, help="Codex sessions of 20 turns")
    args = parser.parse_args(argv)
    records = session_records(args.sessions, 20)
    with tempfile.TemporaryDirectory(prefix="mimo2codex-render-") as workdir:
        for round_ in range(1, args.rounds + 1):
            for processes in (0, args.processes):
                figures = run(records, Path(workdir), processes)
                mode = "writer thread" if processes == 0 else f"{processes} processes"
                print(
                    f"round {round_}, {mode:13s}: {figures['rows_per_s']:8,.0f} rows/s, "
                    f"writer process CPU {figures['writer_process_cpu_us_per_row']:.0f} µs/row",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
