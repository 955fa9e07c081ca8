"""Hourly rollups: what stats and timeseries read instead of the raw log (pure, backend-neutral).

A rollup row is keyed by (hour, provider, client model, upstream model) and holds counters, errors by
code and two log-spaced histograms (:mod:`mimo2codex.store.histogram`). The writer folds each batch
into per-key deltas (:func:`fold`) and adds them to the stored rows in the same transaction; a
window's totals are the sum of rollups for its whole hours plus the same fold over the raw rows of
its partial edge hours (:func:`window_parts`), so "the last 24 h" is exactly 24 hours. The stores now
keep the same rollups per minute and per day too and read a window across all three
(:mod:`mimo2codex.store.levels`); :func:`window_parts` stays for the benchmark's old read path.
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from mimo2codex.store import histogram

HOUR_MS = 3_600_000
#: counters an edge's counter query sums directly (its own ``n`` and ``cancelled`` aside)
_EDGE_SUMS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "duration_sum",
    "ttft_sum",
    "bytes_in",
    "bytes_out",
)
DAY_MS = 24 * HOUR_MS

RollupKey = tuple[int, str, str, str]
#: counters summed as they are
COUNTERS: tuple[str, ...] = (
    "requests",
    "errors",
    "cancelled",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "duration_sum",
    "ttft_sum",
    "bytes_in",
    "bytes_out",
)


def hour_of(ts_ms: int) -> int:
    return ts_ms - ts_ms % HOUR_MS


def is_error_row(row: Mapping[str, Any]) -> bool:
    return int(row.get("status_code") or 0) >= 400 or row.get("error_code") is not None


#: the columns :meth:`Rollup.add_rows` reads
_ROW_FIELDS = (
    "error_code",
    "status_code",
    "outcome",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "bytes_in",
    "bytes_out",
    "duration_ms",
    "duration_bucket",
    "ttft_ms",
    "ttft_bucket",
)
_is_set = functools.partial(operator.is_not, None)


def _total(values: Iterable[Any]) -> int:
    """``sum(int(v or 0) for v in values)`` in C calls."""
    return sum(map(int, filter(None, values)))


def _count_into(hist: histogram.Histogram, buckets: Iterable[int]) -> None:
    for bucket, n in collections.Counter(buckets).items():
        histogram.add_to_bucket(hist, bucket, n)


@dataclass(slots=True)
class Rollup:
    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    duration_sum: int = 0
    ttft_sum: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    latency: histogram.Histogram = field(default_factory=dict)
    ttft: histogram.Histogram = field(default_factory=dict)

    def add_row(self, row: Mapping[str, Any]) -> None:
        get = row.get  # a row per logged request: spelled out, no loop over the counters' names
        self.requests += 1
        if is_error_row(row):
            self._add_error(row)
        if get("outcome") == "cancelled":
            self.cancelled += 1
        self.prompt_tokens += int(get("prompt_tokens") or 0)
        self.completion_tokens += int(get("completion_tokens") or 0)
        self.total_tokens += int(get("total_tokens") or 0)
        self.cached_tokens += int(get("cached_tokens") or 0)
        self.reasoning_tokens += int(get("reasoning_tokens") or 0)
        self.bytes_in += int(get("bytes_in") or 0)
        self.bytes_out += int(get("bytes_out") or 0)
        duration = int(get("duration_ms") or 0)
        self.duration_sum += duration
        # a stored row has its buckets already (mimo2codex.store.row)
        bucket = get("duration_bucket")
        histogram.add_to_bucket(self.latency, histogram.bucket_of(duration) if bucket is None else bucket)
        ttft = get("ttft_ms")
        if ttft is not None:
            self.ttft_sum += int(ttft)
            bucket = get("ttft_bucket")
            histogram.add_to_bucket(self.ttft, histogram.bucket_of(int(ttft)) if bucket is None else bucket)

    def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`add_row` for each of ``rows``, a column at a time: C passes over a batch's rows,
        not ~200 bytecodes a row. Rows missing one of the columns take the row-by-row path; errors
        (few) are counted by code row by row, and buckets a row lacks are computed."""
        try:
            columns = {name: list(map(operator.itemgetter(name), rows)) for name in _ROW_FIELDS}
        except KeyError:
            for row in rows:
                self.add_row(row)
            return
        codes, statuses = columns["error_code"], columns["status_code"]
        if any(map(_is_set, codes)) or max(map(int, filter(None, statuses)), default=0) >= 400:
            for row in rows:  # errors are few: counted by code row by row
                if is_error_row(row):
                    self._add_error(row)
        self.requests += len(rows)
        self.cancelled += columns["outcome"].count("cancelled")
        self.prompt_tokens += _total(columns["prompt_tokens"])
        self.completion_tokens += _total(columns["completion_tokens"])
        self.total_tokens += _total(columns["total_tokens"])
        self.cached_tokens += _total(columns["cached_tokens"])
        self.reasoning_tokens += _total(columns["reasoning_tokens"])
        self.bytes_in += _total(columns["bytes_in"])
        self.bytes_out += _total(columns["bytes_out"])
        self.duration_sum += _total(columns["duration_ms"])
        buckets = columns["duration_bucket"]
        if None in buckets:  # rows built elsewhere than record_to_row: their buckets computed here
            durations = columns["duration_ms"]
            buckets = [
                histogram.bucket_of(int(d or 0)) if b is None else b for d, b in zip(durations, buckets, strict=True)
            ]
        _count_into(self.latency, buckets)
        ttfts = columns["ttft_ms"]
        if len(ttfts) != ttfts.count(None):
            present = list(map(_is_set, ttfts))
            ttft_buckets = list(itertools.compress(columns["ttft_bucket"], present))
            present_ttfts = list(itertools.compress(ttfts, present))
            self.ttft_sum += sum(map(int, present_ttfts))
            if None in ttft_buckets:
                pairs = zip(present_ttfts, ttft_buckets, strict=True)
                ttft_buckets = [histogram.bucket_of(int(t)) if b is None else b for t, b in pairs]
            _count_into(self.ttft, ttft_buckets)

    def _add_error(self, row: Mapping[str, Any]) -> None:
        self.errors += 1
        code = row.get("error_code") or f"http_{row.get('status_code')}"
        self.errors_by_code[code] = self.errors_by_code.get(code, 0) + 1

    def merge(self, other: Rollup) -> Rollup:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, n in other.errors_by_code.items():
            self.errors_by_code[code] = self.errors_by_code.get(code, 0) + n
        histogram.merge(self.latency, other.latency)
        histogram.merge(self.ttft, other.ttft)
        return self

    def negated(self) -> Rollup:
        """This rollup with every count negative: added to another, it takes these rows away (a
        minute's rollup minus the rows of the minute outside a window, :mod:`mimo2codex.store.levels`)."""
        out = Rollup()
        for name in COUNTERS:
            setattr(out, name, -getattr(self, name))
        out.errors_by_code = {code: -n for code, n in self.errors_by_code.items()}
        out.latency = {b: -n for b, n in self.latency.items()}
        out.ttft = {b: -n for b, n in self.ttft.items()}
        return out

    # -- storage -----------------------------------------------------------------------------
    def to_columns(self) -> dict[str, Any]:
        """The stored form: counters, then JSON text for the code map and the histograms."""
        columns: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        columns["errors_by_code"] = orjson.dumps(self.errors_by_code).decode()
        columns["latency_hist"] = histogram.encode(self.latency)
        columns["ttft_hist"] = histogram.encode(self.ttft)
        return columns

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> Rollup:
        rollup = cls()
        for name in COUNTERS:
            setattr(rollup, name, int(columns.get(name) or 0))
        codes = columns.get("errors_by_code")
        if codes:
            parsed = orjson.loads(codes) if isinstance(codes, (str, bytes)) else codes
            rollup.errors_by_code = {str(k): int(v) for k, v in parsed.items()}
        rollup.latency = histogram.decode(columns.get("latency_hist"))
        rollup.ttft = histogram.decode(columns.get("ttft_hist"))
        return rollup

    # -- reporting ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        ttft_count = histogram.total(self.ttft)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "cancelled": self.cancelled,
            # the most frequent first, ties by name: the same order however the parts were merged
            # (a code whose rows were all taken away again sums to 0: not an error of this window)
            "errors_by_code": dict(
                sorted(((c, n) for c, n in self.errors_by_code.items() if n), key=lambda kv: (-kv[1], kv[0]))
            ),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "latency_ms": {
                "avg": round(self.duration_sum / self.requests, 1) if self.requests else None,
                **histogram.percentiles(self.latency),
            },
            "ttft_ms": {
                "avg": round(self.ttft_sum / ttft_count, 1) if ttft_count else None,
                **histogram.percentiles(self.ttft),
            },
        }


def key_of(row: Mapping[str, Any], size_ms: int = HOUR_MS) -> RollupKey:
    ts = int(row["ts"])
    return (
        ts - ts % size_ms,
        str(row.get("provider_id") or ""),
        str(row.get("client_model") or ""),
        str(row.get("upstream_model") or ""),
    )


_ROUTE = operator.itemgetter("provider_id", "client_model", "upstream_model")


def fold(rows: Iterable[Mapping[str, Any]], size_ms: int = HOUR_MS) -> dict[RollupKey, Rollup]:
    """Per-key deltas of a batch of log rows (keyed by hour, or by ``size_ms`` units).

    The rows are grouped first, and each group added up column by column (:meth:`Rollup.add_rows`):
    the writer folds every logged request, and a batch's few hundred rows share a few keys.
    """
    rows = list(rows)  # walked twice when a row needs key_of's conversions
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    try:
        for row in rows:
            ts = int(row["ts"])
            raw = (ts - ts % size_ms, _ROUTE(row))  # grouped as they are; keyed as key_of says below
            group = groups.get(raw)
            if group is None:
                groups[raw] = [row]
            else:
                group.append(row)
    except (KeyError, TypeError):  # a row without the route's columns, or an odd ts: one by one
        groups = {}
        for row in rows:
            groups.setdefault(key_of(row, size_ms), []).append(row)
    deltas: dict[RollupKey, Rollup] = {}
    for group in groups.values():
        key = key_of(group[0], size_ms)  # two raw keys may be one (None and "" as a provider)
        rollup = deltas.get(key)
        if rollup is None:
            rollup = deltas[key] = Rollup()
        rollup.add_rows(group)
    return deltas


@dataclass(frozen=True, slots=True)
class WindowParts:
    """A window split into whole hours (read from rollups) and raw edges (read from the log)."""

    #: rollup hours ``first_hour <= hour < end_hour`` (empty when equal)
    first_hour: int
    end_hour: int
    #: raw ``[since, until)`` ranges of the partial edge hours
    edges: tuple[tuple[int, int], ...]


def window_parts(since_ms: int, until_ms: int) -> WindowParts:
    """
    >>> window_parts(HOUR_MS + 5, 3 * HOUR_MS + 7)
    WindowParts(first_hour=7200000, end_hour=10800000, edges=((3600005, 7200000), (10800000, 10800007)))
    """
    if until_ms <= since_ms:
        return WindowParts(since_ms, since_ms, ())
    first = -(-since_ms // HOUR_MS) * HOUR_MS  # ceil to the hour
    end = hour_of(until_ms)
    if first >= end:  # the window lies inside one or two partial hours: raw rows only
        return WindowParts(first, first, ((since_ms, until_ms),))
    edges = []
    if since_ms < first:
        edges.append((since_ms, first))
    if end < until_ms:
        edges.append((end, until_ms))
    return WindowParts(first, end, tuple(edges))


def edge_rollup(columns: Mapping[str, Any]) -> tuple[RollupKey, Rollup]:
    """One grouped row of an edge query (see the backends' ``EDGE_SQL``) as a rollup delta.

    The query groups raw rows by key, error code, status class, outcome and histogram buckets, so
    the group's ``n`` rows share those and the sums add up exactly.
    """
    n = int(columns["n"])
    rollup = Rollup(requests=n)
    for name in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens"):
        setattr(rollup, name, int(columns.get(name) or 0))
    rollup.bytes_in = int(columns.get("bytes_in") or 0)
    rollup.bytes_out = int(columns.get("bytes_out") or 0)
    rollup.duration_sum = int(columns.get("duration_sum") or 0)
    rollup.ttft_sum = int(columns.get("ttft_sum") or 0)
    if columns.get("is_error"):
        rollup.errors = n
        code = columns.get("error_code") or f"http_{columns.get('status_code')}"
        rollup.errors_by_code[str(code)] = n
    if columns.get("outcome") == "cancelled":
        rollup.cancelled = n
    rollup.latency = {int(columns.get("duration_bucket") or 0): n}
    if columns.get("ttft_bucket") is not None:
        rollup.ttft = {int(columns["ttft_bucket"]): n}
    key = (
        int(columns["hour"]),
        str(columns.get("provider_id") or ""),
        str(columns.get("client_model") or ""),
        str(columns.get("upstream_model") or ""),
    )
    return key, rollup


def edge_key(columns: Mapping[str, Any]) -> RollupKey:
    return (
        int(columns["hour"]),
        str(columns.get("provider_id") or ""),
        str(columns.get("client_model") or ""),
        str(columns.get("upstream_model") or ""),
    )


def add_edge_counts(into: dict[RollupKey, Rollup], columns: Mapping[str, Any]) -> None:
    """Add one group of an edge's counter query: ``n`` rows of a key sharing ``error_label`` (the
    error code, ``http_<status>`` for an error status without one, None for a success), with
    ``cancelled`` among them and the sums of the counters."""
    found = into.get(key := edge_key(columns))
    rollup = found if found is not None else into.setdefault(key, Rollup())
    n = int(columns["n"])
    rollup.requests += n
    rollup.cancelled += int(columns.get("cancelled") or 0)
    for name in _EDGE_SUMS:
        setattr(rollup, name, getattr(rollup, name) + int(columns.get(name) or 0))
    label = columns.get("error_label")
    if label:
        rollup.errors += n
        rollup.errors_by_code[str(label)] = rollup.errors_by_code.get(str(label), 0) + n


def add_edge_histogram(into: dict[RollupKey, Rollup], columns: Mapping[str, Any], which: str) -> None:
    """Add one group of an edge's histogram query: ``n`` rows of a key in ``bucket``; ``which`` is
    ``latency`` or ``ttft``."""
    found = into.get(key := edge_key(columns))
    rollup = found if found is not None else into.setdefault(key, Rollup())
    target: histogram.Histogram = rollup.latency if which == "latency" else rollup.ttft
    bucket = int(columns["bucket"])
    target[bucket] = target.get(bucket, 0) + int(columns["n"])


def report(parts: Iterable[tuple[RollupKey, Rollup]], since_ms: int, until_ms: int) -> dict[str, Any]:
    """The stats document: totals and the same per provider / client model / upstream model."""
    totals = Rollup()
    by: dict[str, dict[str, Rollup]] = {"provider_id": {}, "client_model": {}, "upstream_model": {}}
    # per route (provider, client model, upstream model): the admin's mappings and per-model table
    routes: dict[tuple[str, str, str], Rollup] = {}
    # requests per route and hour (a minute's or edge's key floored to its hour): an hour is the
    # route's "last seen" only if its rows in the window are more than none. A minute's rollup and
    # the negated rest of that minute share the minute's hour and may cancel out.
    seen: dict[tuple[tuple[str, str, str], int], int] = {}
    for (hour, provider, client_model, upstream_model), rollup in parts:
        route = (provider, client_model, upstream_model)
        found = routes.get(route)
        if found is None:
            routes[route] = Rollup().merge(rollup)
        else:
            found.merge(rollup)
        at = (route, hour_of(hour))
        seen[at] = seen.get(at, 0) + rollup.requests
    last_hour: dict[tuple[str, str, str], int] = {}
    for (route, hour), n in seen.items():
        if n > 0:
            last_hour[route] = max(hour, last_hour.get(route, hour))
    # The totals and groups are sums of the routes' sums (a few routes), not of every part again: a
    # part's histograms are merged once, not five times. A route whose rows were all taken away
    # again (negated parts: rows of an edge's minute outside the window) had none in the window.
    routes = {route: rollup for route, rollup in routes.items() if rollup.requests}
    for (provider, client_model, upstream_model), rollup in routes.items():
        totals.merge(rollup)
        for name, value in (
            ("provider_id", provider),
            ("client_model", client_model),
            ("upstream_model", upstream_model),
        ):
            group = by[name].get(value)
            if group is None:
                group = by[name][value] = Rollup()
            group.merge(rollup)
    doc: dict[str, Any] = {"since_ms": since_ms, "until_ms": until_ms, **totals.summary()}
    for name, label in (
        ("provider_id", "by_provider"),
        ("client_model", "by_client_model"),
        ("upstream_model", "by_upstream_model"),
    ):
        doc[label] = [
            {name: value, **rollup.summary()}
            for value, rollup in sorted(by[name].items(), key=lambda kv: -kv[1].requests)
        ]
    doc["by_route"] = [
        {"provider_id": p, "client_model": c, "upstream_model": u, "last_hour": last_hour[(p, c, u)], **r.summary()}
        for (p, c, u), r in sorted(routes.items(), key=lambda kv: -kv[1].requests)
    ]
    return doc


def series(
    parts: Iterable[tuple[RollupKey, Rollup]], since_ms: int, until_ms: int, bucket_ms: int
) -> list[dict[str, Any]]:
    """Per-bucket summaries from ``since_ms``'s bucket to ``until_ms``, empty buckets included."""
    buckets: dict[int, Rollup] = {}
    for (hour, *_), rollup in parts:
        start = hour - hour % bucket_ms
        found = buckets.get(start)
        if found is None:
            found = buckets[start] = Rollup()
        found.merge(rollup)
    out = []
    start = since_ms - since_ms % bucket_ms
    while start < until_ms:
        out.append({"ts": start, **(buckets.get(start) or Rollup()).summary()})
        start += bucket_ms
    return out
