"""The hourly rollups on PostgreSQL: the writer's upsert, and the readers' sums (a part of PostgresStore).

The rollups' histograms and error counts are ``jsonb`` objects: an upsert adds a batch's deltas to
them in the server (``m2c_jsonb_add``, :mod:`mimo2codex.store.pg_schema`), so two instances writing
the same hour and route never lose each other's counts; a reader sums a window's rows per bucket and
route in the server too, so only the sums come back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimo2codex.store import rollup

if TYPE_CHECKING:
    import psycopg

Parts = list[tuple[rollup.RollupKey, rollup.Rollup]]

KEY = ("hour", "provider_id", "client_model", "upstream_model")
JSON_COLUMNS = ("errors_by_code", "latency_hist", "ttft_hist")
UPSERT_SQL = (
    f"INSERT INTO log_rollups_hourly AS r ({', '.join((*KEY, *rollup.COUNTERS, *JSON_COLUMNS))}) "
    f"VALUES ({', '.join(['%s'] * (len(KEY) + len(rollup.COUNTERS)) + ['%s::jsonb'] * len(JSON_COLUMNS))}) "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(
        [f"{c} = r.{c} + excluded.{c}" for c in rollup.COUNTERS]
        + [f"{c} = m2c_jsonb_add(r.{c}, excluded.{c})" for c in JSON_COLUMNS]
    )
)
COUNTER_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in rollup.COUNTERS)
JSON_SUMS = " UNION ALL ".join(
    f"SELECT {{group}} AS bucket, provider_id, client_model, upstream_model, '{c}' AS kind, e.key, "
    f"sum(e.value::bigint)::bigint AS n FROM log_rollups_hourly, jsonb_each_text({c}) AS e "
    "WHERE hour >= %s AND hour < %s GROUP BY 1, 2, 3, 4, 5, 6"
    for c in JSON_COLUMNS
)
#: A partial edge hour of a window, from the raw rows, in two small sums: the counters per route and
#: error (rollup.edge_rollup adds them up exactly), and the histograms per route and bucket. One
#: grouping by both would return a group per route, error and bucket pair: thousands of rows to decode.
_EDGE_KEY = (
    "ts - ts %% 3600000 AS hour, coalesce(provider_id, '') AS provider_id, "
    "coalesce(client_model, '') AS client_model, coalesce(upstream_model, '') AS upstream_model"
)
EDGE_COUNTERS_SQL = f"""
SELECT {_EDGE_KEY}, error_code,
       CASE WHEN error_code IS NULL AND status_code >= 400 THEN status_code END AS status_code,
       coalesce(status_code >= 400, false) OR error_code IS NOT NULL AS is_error,
       CASE WHEN outcome = 'cancelled' THEN 'cancelled' END AS outcome,
       count(*) AS n, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
       sum(total_tokens) AS total_tokens, sum(cached_tokens) AS cached_tokens,
       sum(reasoning_tokens) AS reasoning_tokens, sum(duration_ms) AS duration_sum, sum(ttft_ms) AS ttft_sum,
       sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
FROM chat_logs WHERE ts >= %s AND ts < %s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
EDGE_HISTOGRAMS_SQL = f"""
SELECT {_EDGE_KEY}, 'latency' AS kind, duration_bucket AS bucket, count(*) AS n
FROM chat_logs WHERE ts >= %s AND ts < %s GROUP BY 1, 2, 3, 4, 6
UNION ALL
SELECT {_EDGE_KEY}, 'ttft' AS kind, ttft_bucket AS bucket, count(*) AS n
FROM chat_logs WHERE ts >= %s AND ts < %s AND ttft_bucket IS NOT NULL GROUP BY 1, 2, 3, 4, 6
"""


def rollup_params(key: rollup.RollupKey, delta: rollup.Rollup) -> tuple[Any, ...]:
    """The parameters of :data:`UPSERT_SQL` for one key's delta."""
    columns = delta.to_columns()
    return (*key, *(columns[c] for c in rollup.COUNTERS), *(columns[c] for c in JSON_COLUMNS))


def rollup_parts(conn: psycopg.Connection[Any], first_hour: int, end_hour: int, bucket_ms: int | None) -> Parts:
    """Whole hours from the rollups, summed in the server per bucket (None: one bucket) and route.

    ``conn`` returns rows as dicts (the readers' pool).
    """
    group = "0" if bucket_ms is None else f"hour - hour %% {int(bucket_ms)}"
    keyed: dict[rollup.RollupKey, rollup.Rollup] = {}
    counters = conn.execute(
        f"SELECT {group} AS bucket, provider_id, client_model, upstream_model, {COUNTER_SUMS} "
        "FROM log_rollups_hourly WHERE hour >= %s AND hour < %s GROUP BY 1, 2, 3, 4",
        (first_hour, end_hour),
    ).fetchall()
    for row in counters:
        key = (int(row["bucket"]), row["provider_id"], row["client_model"], row["upstream_model"])
        keyed[key] = rollup.Rollup.from_columns(row)
    sparse = conn.execute(JSON_SUMS.format(group=group), (first_hour, end_hour) * len(JSON_COLUMNS))
    for row in sparse.fetchall():
        found = keyed[(int(row["bucket"]), row["provider_id"], row["client_model"], row["upstream_model"])]
        kind, bucket, n = row["kind"], row["key"], int(row["n"])
        if kind == "errors_by_code":
            found.errors_by_code[bucket] = n
        elif kind == "latency_hist":
            found.latency[int(bucket)] = n
        else:
            found.ttft[int(bucket)] = n
    return list(keyed.items())


def edge_parts(conn: psycopg.Connection[Any], since_ms: int, until_ms: int) -> Parts:
    """A partial hour ``[since_ms, until_ms)`` from the raw rows, per hour and route (dict rows)."""
    keyed: dict[rollup.RollupKey, rollup.Rollup] = {}
    for row in conn.execute(EDGE_COUNTERS_SQL, (since_ms, until_ms)).fetchall():
        key, part = rollup.edge_rollup(row)
        part.latency, part.ttft = {}, {}  # the histograms come from their own sum below
        found = keyed.get(key)
        keyed[key] = part if found is None else found.merge(part)
    for row in conn.execute(EDGE_HISTOGRAMS_SQL, (since_ms, until_ms) * 2).fetchall():
        key = (int(row["hour"]), row["provider_id"], row["client_model"], row["upstream_model"])
        target = keyed[key].latency if row["kind"] == "latency" else keyed[key].ttft
        bucket = int(row["bucket"] or 0)
        target[bucket] = target.get(bucket, 0) + int(row["n"])
    return list(keyed.items())
