"""Figures from the store's rollups, never a scan of the raw log: ``stats``, ``stats/timeseries``,
``mappings`` and the one-call ``dashboard``.

Windows are exact ("24h" is the last 24 hours to the millisecond: the store combines whole-hour
rollups with the edges). Bucket labels are UTC (``YYYY-MM-DD`` / ``YYYY-MM-DD HH``).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.overview import provider_json
from mimo2codex.admin.spec import ANY_OBJ, INT, NUM, STR, ApiRoute, Param, arr, nullable, obj
from mimo2codex.errors import InvalidRequest
from mimo2codex.http_body import json_response
from mimo2codex.store.base import LogQuery

RANGES_MS = {"1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}
RECENT = 20


def _range(request: Request, default: str) -> tuple[str, int]:
    name = request.query_params.get("range") or default
    if name not in RANGES_MS:
        raise InvalidRequest(f"range must be one of {', '.join(RANGES_MS)}, got {name!r}", param="range")
    return name, RANGES_MS[name]


def _label(ts_ms: int, bucket: str) -> str:
    return time.strftime("%Y-%m-%d %H" if bucket == "hour" else "%Y-%m-%d", time.gmtime(ts_ms / 1000))


def _node_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The Node tool's ``rows``: one per (provider, upstream model)."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for route in report.get("by_route", []):
        key = (route["provider_id"], route["upstream_model"])
        row = pairs.setdefault(
            key,
            {
                "provider_id": key[0],
                "upstream_model": key[1],
                "requests": 0,
                "errors": 0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "cached_tokens": 0,
            },
        )
        for name in ("requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"):
            row[name] += int(route.get(name) or 0)
    return sorted(pairs.values(), key=lambda r: -r["requests"])


async def stats(ctx: AdminContext, request: Request) -> Response:
    name, span = _range(request, "24h")
    until = ctx.now_ms()
    report = await ctx.call(ctx.need_store().stats, until - span, until)
    return json_response({"range": name, "since": until - span, "rows": _node_rows(report), **report})


async def timeseries(ctx: AdminContext, request: Request) -> Response:
    name, span = _range(request, "7d")
    bucket = request.query_params.get("bucket") or "day"
    if bucket not in ("hour", "day"):
        raise InvalidRequest(f"bucket must be hour or day, got {bucket!r}", param="bucket")
    until = ctx.now_ms()
    points = await ctx.call(ctx.need_store().timeseries, until - span, until, bucket)
    total = sum(int(p.get("total_tokens") or 0) for p in points)
    series = {
        "provider_id": "*",
        "upstream_model": "*",
        "tokens": [int(p.get("total_tokens") or 0) for p in points],
        "prompt_tokens": [int(p.get("prompt_tokens") or 0) for p in points],
        "completion_tokens": [int(p.get("completion_tokens") or 0) for p in points],
        "cached_tokens": [int(p.get("cached_tokens") or 0) for p in points],
        "total": total,
    }
    return json_response(
        {
            "range": name,
            "bucket": bucket,
            "since": until - span,
            "until": until,
            "buckets": [_label(int(p["ts"]), bucket) for p in points],
            "series": [series] if points else [],
            "points": points,
        }
    )


async def mappings(ctx: AdminContext, request: Request) -> Response:
    name, span = _range(request, "30d")
    until = ctx.now_ms()
    report = await ctx.call(ctx.need_store().stats, until - span, until)
    rows = [
        {
            "provider_id": r["provider_id"],
            "client_model": r["client_model"],
            "upstream_model": r["upstream_model"],
            "count": r["requests"],
            "last_seen": r.get("last_hour"),
            "rewritten": bool(r["client_model"]) and r["client_model"] != r["upstream_model"],
        }
        for r in report.get("by_route", [])
    ]
    return json_response({"range": name, "mappings": rows})


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


async def dashboard(ctx: AdminContext, request: Request) -> Response:
    name, span = _range(request, "24h")
    store = ctx.need_store()
    until = ctx.now_ms()
    bucket = "hour" if span <= RANGES_MS["24h"] else "day"
    report = await ctx.call(store.stats, until - span, until)
    points = await ctx.call(store.timeseries, until - span, until, bucket)
    recent = await ctx.call(store.logs, LogQuery(limit=RECENT))
    requests = int(report.get("requests") or 0)
    prompt = int(report.get("prompt_tokens") or 0)
    by_provider = {row["provider_id"]: row for row in report.get("by_provider", [])}
    router = ctx.gateway.router
    health = []
    for provider in ctx.settings.providers:
        seen = by_provider.get(provider.id, {})
        count = int(seen.get("requests") or 0)
        errors = int(seen.get("errors") or 0)
        codes = seen.get("errors_by_code") or {}
        health.append(
            {
                **provider_json(provider, router.default.id),
                "requests": count,
                "errors": errors,
                "error_rate": _rate(errors, count),
                "latency_p50": (seen.get("latency_ms") or {}).get("p50"),
                "top_error": next(iter(codes), None),
                "status": "idle" if not count else ("failing" if errors == count else "degraded" if errors else "ok"),
            }
        )
    return json_response(
        {
            "range": name,
            "since": until - span,
            "until": until,
            "bucket": bucket,
            "summary": {
                "requests": requests,
                "errors": int(report.get("errors") or 0),
                "error_rate": _rate(int(report.get("errors") or 0), requests),
                "prompt_tokens": prompt,
                "completion_tokens": int(report.get("completion_tokens") or 0),
                "total_tokens": int(report.get("total_tokens") or 0),
                "cached_tokens": int(report.get("cached_tokens") or 0),
                "reasoning_tokens": int(report.get("reasoning_tokens") or 0),
                "cache_hit_rate": _rate(int(report.get("cached_tokens") or 0), prompt),
                "latency_ms": report.get("latency_ms") or {},
                "ttft_ms": report.get("ttft_ms") or {},
            },
            "models": report.get("by_route", []),
            "error_codes": report.get("errors_by_code") or {},
            "providers": health,
            "timeseries": [{"label": _label(int(p["ts"]), bucket), **p} for p in points],
            "recent": recent.rows,
            "store": None if ctx.store is None else _state(ctx),
        }
    )


def _state(ctx: AdminContext) -> dict[str, Any]:
    assert ctx.store is not None
    state = ctx.store.state()
    return {"backend": state.backend, "status": state.status, "dropped": state.dropped, "problem": state.problem}


_RANGE = {"type": "string", "enum": list(RANGES_MS)}
_PCT = obj({"avg": nullable(NUM), "p50": nullable(NUM), "p95": nullable(NUM), "p99": nullable(NUM)})

ROUTES = (
    ApiRoute(
        "GET",
        "/stats",
        stats,
        "Totals over an exact window, and the same per provider, client model, upstream model and route",
        "stats",
        params=(Param("range", _RANGE),),
        responses={200: obj({"range": STR, "since": INT, "rows": arr(ANY_OBJ), "requests": INT}, "since", "rows")},
    ),
    ApiRoute(
        "GET",
        "/stats/timeseries",
        timeseries,
        "Per-bucket figures (every bucket listed, empty ones included)",
        "stats",
        params=(Param("range", _RANGE), Param("bucket", {"type": "string", "enum": ["hour", "day"]})),
        responses={
            200: obj(
                {
                    "range": STR,
                    "bucket": STR,
                    "since": INT,
                    "buckets": arr(STR),
                    "series": arr(ANY_OBJ),
                    "points": arr(ANY_OBJ),
                },
                "range",
                "bucket",
                "since",
                "buckets",
                "series",
            )
        },
    ),
    ApiRoute(
        "GET",
        "/mappings",
        mappings,
        "Which provider and upstream model served each client model (default: last 30 days)",
        "stats",
        params=(Param("range", _RANGE),),
        responses={
            200: obj(
                {
                    "range": STR,
                    "mappings": arr(
                        obj(
                            {
                                "provider_id": STR,
                                "client_model": STR,
                                "upstream_model": STR,
                                "count": INT,
                                "last_seen": nullable(INT),
                            },
                            "provider_id",
                            "client_model",
                            "upstream_model",
                            "count",
                        )
                    ),
                },
                "mappings",
            )
        },
    ),
    ApiRoute(
        "GET",
        "/dashboard",
        dashboard,
        "Everything the dashboard shows, in one call, from the rollups",
        "stats",
        params=(Param("range", _RANGE),),
        responses={
            200: obj(
                {
                    "range": STR,
                    "since": INT,
                    "until": INT,
                    "bucket": STR,
                    "summary": obj(
                        {
                            "requests": INT,
                            "errors": INT,
                            "error_rate": nullable(NUM),
                            "prompt_tokens": INT,
                            "completion_tokens": INT,
                            "total_tokens": INT,
                            "cached_tokens": INT,
                            "reasoning_tokens": INT,
                            "cache_hit_rate": nullable(NUM),
                            "latency_ms": _PCT,
                            "ttft_ms": _PCT,
                        },
                        "requests",
                        "errors",
                        "error_rate",
                        "cache_hit_rate",
                    ),
                    "models": arr(ANY_OBJ),
                    "error_codes": ANY_OBJ,
                    "providers": arr(ANY_OBJ),
                    "timeseries": arr(ANY_OBJ),
                    "recent": arr(ANY_OBJ),
                    "store": nullable(ANY_OBJ),
                },
                "range",
                "summary",
                "models",
                "error_codes",
                "providers",
                "timeseries",
                "recent",
            )
        },
    ),
)
