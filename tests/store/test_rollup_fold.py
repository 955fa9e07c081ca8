"""A batch folded column by column (rollup.fold, Rollup.add_rows) adds up as row by row (add_row)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mimo2codex.store import histogram, rollup

_NUMBER = st.one_of(st.none(), st.integers(0, 10**9), st.just(0))
_ROW = st.fixed_dictionaries(
    {
        "ts": st.integers(0, 3 * rollup.HOUR_MS),
        "provider_id": st.sampled_from(["p", "q", None, ""]),
        "client_model": st.sampled_from(["m", "n"]),
        "upstream_model": st.sampled_from(["u", None]),
        "status_code": st.sampled_from([200, 200, 200, 429, 500, None, 0]),
        "error_code": st.sampled_from([None, None, None, "rate_limit_exceeded", "stream_cut"]),
        "outcome": st.sampled_from(["ok", "cancelled", None]),
        "prompt_tokens": _NUMBER,
        "completion_tokens": _NUMBER,
        "total_tokens": _NUMBER,
        "cached_tokens": _NUMBER,
        "reasoning_tokens": _NUMBER,
        "bytes_in": _NUMBER,
        "bytes_out": _NUMBER,
        "duration_ms": st.one_of(st.none(), st.integers(0, 10**8)),
        "ttft_ms": st.one_of(st.none(), st.integers(0, 10**6)),
    },
    # rows built elsewhere than record_to_row: buckets missing, or a column missing altogether
    optional={"duration_bucket": st.none(), "ttft_bucket": st.none()},
)


def _with_buckets(row: dict[str, Any], keep: bool) -> dict[str, Any]:
    if keep:  # as record_to_row stores them
        duration = int(row["duration_ms"] or 0)
        row.setdefault("duration_bucket", histogram.bucket_of(duration))
        ttft = row["ttft_ms"]
        row.setdefault("ttft_bucket", None if ttft is None else histogram.bucket_of(ttft))
    return row


def _row_by_row(rows: list[dict[str, Any]], size_ms: int) -> dict[rollup.RollupKey, rollup.Rollup]:
    deltas: dict[rollup.RollupKey, rollup.Rollup] = {}
    for row in rows:
        deltas.setdefault(rollup.key_of(row, size_ms), rollup.Rollup()).add_row(row)
    return deltas


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_ROW, st.booleans(), st.sampled_from([False] * 9 + [True])), max_size=60),
    st.sampled_from([60_000, rollup.HOUR_MS]),
)
def test_fold_adds_up_as_row_by_row(drawn: list[tuple[dict[str, Any], bool, bool]], size_ms: int) -> None:
    rows = []
    for row, keep_buckets, drop_column in drawn:
        row = _with_buckets(dict(row), keep_buckets)
        if drop_column:
            row.pop("outcome")  # a row without a column the column path reads: row by row
        rows.append(row)
    assert rollup.fold(rows, size_ms) == _row_by_row(rows, size_ms)
    assert rollup.fold(iter(rows), size_ms) == _row_by_row(rows, size_ms)


def test_fold_groups_keys_that_key_of_makes_one() -> None:
    rows: list[dict[str, Any]] = [
        {"ts": 5, "provider_id": None, "client_model": "m", "upstream_model": "u", "duration_ms": 10},
        {"ts": 7, "provider_id": "", "client_model": "m", "upstream_model": "u", "duration_ms": 20},
    ]
    folded = rollup.fold(rows)
    assert list(folded) == [(0, "", "m", "u")]
    assert folded[(0, "", "m", "u")].requests == 2
    assert folded == _row_by_row(rows, rollup.HOUR_MS)
