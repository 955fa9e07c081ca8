"""Dashboard, stats, timeseries and mappings: the figures of the requests just made, from the rollups."""

from __future__ import annotations

from tests.admin.conftest import Admin, chat_reply
from tests.fakes.transport import FakeReply


def _traffic(admin: Admin) -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 40},
    }
    for _ in range(3):
        admin.transport.replies.append(chat_reply(usage=usage))
        assert admin.ask("mimo-v2.5-pro").status_code == 200
    admin.transport.replies.append(FakeReply.json({"error": {"message": "bad"}}, status=400))
    assert admin.ask("gpt-5").status_code == 400  # rewritten to MiMo's default, then refused upstream
    admin.flush()


def test_dashboard_equals_the_requests_made(admin: Admin) -> None:
    _traffic(admin)
    board = admin.api("GET", "dashboard", params={"range": "24h"}).json()
    summary = board["summary"]
    assert summary["requests"] == 4
    assert summary["errors"] == 1
    assert summary["error_rate"] == 0.25
    assert summary["prompt_tokens"] == 300
    assert summary["completion_tokens"] == 60
    assert summary["total_tokens"] == 360
    assert summary["cached_tokens"] == 120
    assert summary["cache_hit_rate"] == 0.4
    assert summary["latency_ms"]["p50"] is not None
    assert board["error_codes"] == {"invalid_prompt": 1}
    assert len(board["recent"]) == 4
    routes = {(m["client_model"], m["upstream_model"]): m["requests"] for m in board["models"]}
    assert routes == {("mimo-v2.5-pro", "mimo-v2.5-pro"): 3, ("gpt-5", "mimo-v2.5-pro"): 1}
    mimo = next(p for p in board["providers"] if p["id"] == "mimo")
    assert (mimo["requests"], mimo["errors"], mimo["status"]) == (4, 1, "degraded")
    assert next(p for p in board["providers"] if p["id"] == "deepseek")["status"] == "idle"
    assert sum(point["requests"] for point in board["timeseries"]) == 4
    assert len(board["timeseries"]) in (24, 25)


def test_stats_timeseries_and_mappings(admin: Admin) -> None:
    _traffic(admin)
    stats = admin.api("GET", "stats").json()
    assert stats["requests"] == 4
    assert stats["rows"] == [
        {
            "provider_id": "mimo",
            "upstream_model": "mimo-v2.5-pro",
            "requests": 4,
            "errors": 1,
            "prompt_tokens": 300,
            "completion_tokens": 60,
            "total_tokens": 360,
            "cached_tokens": 120,
        }
    ]
    series = admin.api("GET", "stats/timeseries", params={"range": "7d", "bucket": "day"}).json()
    assert len(series["buckets"]) == len(series["series"][0]["tokens"]) in (7, 8)
    assert series["series"][0]["total"] == 360
    hourly = admin.api("GET", "stats/timeseries", params={"range": "24h", "bucket": "hour"}).json()
    assert sum(hourly["series"][0]["prompt_tokens"]) == 300
    mappings = admin.api("GET", "mappings").json()["mappings"]
    rewrite = next(m for m in mappings if m["client_model"] == "gpt-5")
    assert rewrite["upstream_model"] == "mimo-v2.5-pro"
    assert rewrite["count"] == 1
    assert rewrite["rewritten"] is True
    for path, params in (
        ("stats", {"range": "1y"}),
        ("stats/timeseries", {"bucket": "minute"}),
        ("dashboard", {"range": "x"}),
    ):
        assert admin.api("GET", path, params=params).status_code == 400
