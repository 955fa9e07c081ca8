"""The request log in the terminal: ``mimo2codex logs`` and ``mimo2codex db stats|prune|vacuum``.

    mimo2codex logs --since 2h --errors          # the last 50 failed requests of the last two hours
    mimo2codex logs -f --provider deepseek       # a live tail, across workers and instances
    mimo2codex logs --json | jq .ttft_ms         # one JSON object per line
    mimo2codex db stats
    mimo2codex db prune --before 30d             # or --before 2026-01-31
    mimo2codex db vacuum

They read the database the gateway writes (``--database-url``, else ``<data dir>/data.db``), so a
tail sees every worker's and every instance's requests: it polls for rows above the last id it
printed (:func:`follow`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from mimo2codex.settings import Settings
from mimo2codex.store import open_store
from mimo2codex.store.base import LogQuery, Store
from mimo2codex.subcommands import Subcommand

POLL_SECONDS = 1.0
#: PostgreSQL hands out ids when a row is inserted but makes them visible at commit, so one instance's
#: batch can appear after another's higher ids: a tail re-reads the ids of the last few seconds.
#: SQLite's writers take turns under one lock, so its ids appear in order.
REORDER_SECONDS = {"postgresql": 3.0}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_moment(text: str, *, now: float) -> int:
    """``2h`` (ago), ``30m``, ``7d``, or an ISO date/time (UTC unless it says) -> ms since the epoch.

    >>> parse_moment("2h", now=10_000.0)
    2800000
    >>> parse_moment("2026-01-31", now=0.0)
    1769817600000
    """
    match = _AGE.match(text)
    if match:
        return int((now - float(match.group(1)) * _UNITS[match.group(2).lower()]) * 1000)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected an age like 2h, 30m, 7d or a date like 2026-01-31, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _clock(ms: Any) -> str:
    if not isinstance(ms, int):
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_row(row: dict[str, Any]) -> str:
    """One line of ``mimo2codex logs``: when, status, time, route, tokens, and what went wrong."""
    route = f"{row.get('provider_id') or '-'}/{row.get('upstream_model') or '-'}"
    if row.get("client_model") and row.get("client_model") != row.get("upstream_model"):
        route += f" ({row['client_model']})"
    if row.get("rewritten_from"):
        route += f" [rewritten from {row['rewritten_from']}]"
    tokens = f"in={row.get('prompt_tokens') if row.get('prompt_tokens') is not None else '-'}"
    tokens += f" out={row.get('completion_tokens') if row.get('completion_tokens') is not None else '-'}"
    if row.get("cached_tokens"):
        tokens += f" cached={row['cached_tokens']}"
    if row.get("reasoning_tokens"):
        tokens += f" reasoning={row['reasoning_tokens']}"
    timing = f"{row.get('duration_ms') or 0}ms"
    if row.get("ttft_ms") is not None:
        timing += f" ttft={row['ttft_ms']}ms"
    parts = [
        _clock(row.get("ts")),
        str(row.get("status_code") or "-"),
        "stream" if row.get("stream") else "json",
        row.get("endpoint") or "-",
        route,
        timing,
        tokens,
        str(row.get("request_id") or "-"),
    ]
    if row.get("retries"):
        parts.append(f"retries={row['retries']}")
    if row.get("error_code"):
        snippet = (row.get("error_snippet") or "").replace("\n", " ")
        parts.append(f"{row['error_code']}: {snippet[:200]}" if snippet else str(row["error_code"]))
    return "  ".join(parts)


def _emit(row: dict[str, Any], out: TextIO, as_json: bool) -> None:
    out.write((json.dumps(row, ensure_ascii=False, default=str) if as_json else format_row(row)) + "\n")


def recent(store: Store, query: LogQuery) -> list[dict[str, Any]]:
    """The newest ``query.limit`` matching rows, oldest first (the way a terminal reads them)."""
    return list(reversed(store.logs(query).rows))


def follow(
    store: Store,
    query: LogQuery,
    emit: Callable[[dict[str, Any]], None],
    *,
    after_id: int,
    stop: threading.Event,
    interval: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Print every new matching row until ``stop`` is set, each once, in id order per poll."""
    reorder = REORDER_SECONDS.get(store.backend, 0.0)
    # (time seen, highest id then): the floor a poll reads from is the highest id seen `reorder` ago
    marks: deque[tuple[float, int]] = deque([(clock(), after_id)])
    printed: set[int] = set()
    highest = after_id
    while not stop.is_set():
        now = clock()
        while len(marks) > 1 and now - marks[1][0] >= reorder:
            marks.popleft()
        floor = marks[0][1] if reorder else highest
        for row in _rows_after(store, query, floor):
            row_id = int(row["id"])
            if row_id in printed:
                continue
            emit(row)
            highest = max(highest, row_id)
            if reorder:
                printed.add(row_id)
        marks.append((now, highest))
        printed = {i for i in printed if i > marks[0][1]}
        stop.wait(interval)


def _rows_after(store: Store, query: LogQuery, floor: int) -> Iterator[dict[str, Any]]:
    after = floor
    while True:
        rows = store.tail(_with(query, after_id=after, limit=1000))
        yield from rows
        if len(rows) < 1000:
            return
        after = int(rows[-1]["id"])


def _with(query: LogQuery, **changes: Any) -> LogQuery:
    values = {name: getattr(query, name) for name in query.__dataclass_fields__}
    return LogQuery(**{**values, **changes})


# -- the subcommands ------------------------------------------------------------------------------


def _database_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error, OSError]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:  # pragma: no cover - the driver is only needed for PostgreSQL
        pass
    return tuple(errors)


def _opened(settings: Settings) -> Store:
    # The CLI never writes rows: opening only applies migrations (e.g. adopts a Node database).
    store = open_store(settings, instance="cli")
    store.open()
    return store


def _configure_logs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new requests as they come")
    parser.add_argument("--since", metavar="AGE|DATE", help="only requests since then: 2h, 30m, 7d or 2026-01-31")
    parser.add_argument("--provider", dest="filter_provider", metavar="P", help="only this provider")
    parser.add_argument("--model", dest="filter_model", metavar="M", help="only this client or upstream model")
    parser.add_argument("--errors", action="store_true", help="only failed requests (status >= 400 or an error code)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("-n", "--limit", type=int, default=50, metavar="N", help="how many recent rows (default 50)")
    parser.add_argument("--interval", type=float, default=POLL_SECONDS, help=argparse.SUPPRESS)


def _run_logs(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since_ms = parse_moment(args.since, now=time.time()) if args.since else None
    except ValueError as exc:
        print(f"mimo2codex logs: --since: {exc}", file=sys.stderr)
        return 2
    query = LogQuery(
        provider=args.filter_provider,
        model=args.filter_model,
        status_class="error" if args.errors else None,
        since_ms=since_ms,
        limit=max(1, min(args.limit, 1000)),
    )
    store = _opened(settings)
    out = sys.stdout
    try:
        shown = recent(store, query)
        for row in shown:
            _emit(row, out, args.json)
        out.flush()
        if args.follow:
            last = int(shown[-1]["id"]) if shown else _newest_id(store)

            def emit(row: dict[str, Any]) -> None:
                _emit(row, out, args.json)
                out.flush()

            stop = threading.Event()
            try:
                follow(store, query, emit, after_id=last, stop=stop, interval=args.interval)
            except KeyboardInterrupt:
                stop.set()
    except _database_errors() as exc:
        print(f"mimo2codex logs: cannot read the request log at {store.state().location}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _newest_id(store: Store) -> int:
    page = store.logs(LogQuery(limit=1))
    return int(page.rows[0]["id"]) if page.rows else 0


def _configure_db(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    stats = actions.add_parser("stats", help="rows, size, oldest/newest request, migrations applied")
    stats.add_argument("--json", action="store_true", help="print JSON")
    prune = actions.add_parser("prune", help="delete requests older than --before")
    prune.add_argument("--before", required=True, metavar="AGE|DATE", help="30d (older than 30 days) or 2026-01-31")
    actions.add_parser("vacuum", help="give the space of deleted rows back (checks free disk first)")


def _describe_stats(stats: dict[str, Any]) -> str:
    rows = f"{stats['rows']:,}" + (" (estimated)" if stats.get("rows_estimated") else "")
    lines = [
        f"backend     {stats['backend']}",
        f"location    {stats['location']}",
        f"rows        {rows}",
        f"oldest      {_clock(stats.get('oldest_ts'))}",
        f"newest      {_clock(stats.get('newest_ts'))}",
        f"size        {stats.get('size_bytes', 0) / 2**20:,.1f} MiB",
        f"rollups     {stats.get('rollup_rows', 0):,} hourly rows",
        f"responses   {stats.get('stored_responses', 0):,} stored",
        f"pieces      {stats.get('body_pieces', 0):,} shared body pieces",
        "migrations  " + ", ".join(m["name"] for m in stats.get("migrations", [])),
    ]
    return "\n".join(lines) + "\n"


def _run_db(args: argparse.Namespace, settings: Settings) -> int:
    if args.db_action == "prune":
        try:
            before_ms = parse_moment(args.before, now=time.time())
        except ValueError as exc:
            print(f"mimo2codex db prune: --before: {exc}", file=sys.stderr)
            return 2
    store = _opened(settings)
    try:
        if args.db_action == "stats":
            stats = store.db_stats()
            sys.stdout.write(json.dumps(stats, indent=2) + "\n" if args.json else _describe_stats(stats))
        elif args.db_action == "prune":
            deleted = store.delete_logs(before_ms)
            print(f"deleted {deleted:,} requests logged before {_clock(before_ms)} UTC (hourly rollups are kept)")
        else:
            result = store.vacuum()
            if not result.get("ok"):
                print(f"mimo2codex db vacuum: {result.get('message')}", file=sys.stderr)
                return 1
            before, after = result.get("size_before", 0), result.get("size_after", 0)
            print(f"vacuumed: {before / 2**20:,.1f} MiB -> {after / 2**20:,.1f} MiB")
            if result.get("message"):
                print(result["message"])
    except _database_errors() as exc:
        print(f"mimo2codex db {args.db_action}: {store.state().location}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


LOGS = Subcommand(
    "logs", "show the request log; -f follows it live (every worker and instance)", _configure_logs, _run_logs
)
DB = Subcommand("db", "the request log's database: stats | prune --before AGE|DATE | vacuum", _configure_db, _run_db)
COMMANDS = (LOGS, DB)
