"""The log routes over the real SQLite store: list, filters, keyset paging, detail, export, prune."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson

from tests.admin.conftest import Admin, chat_reply
from tests.fakes.transport import FakeReply


def _traffic(admin: Admin) -> None:
    for text in ("one", "two", "three"):
        admin.transport.replies.append(chat_reply(text))
        assert admin.ask("mimo-v2.5-pro", text).status_code == 200
    admin.transport.replies.append(
        FakeReply.json({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "1"})
    )
    assert admin.ask("deepseek-v4-flash").status_code == 429
    admin.flush()


def test_list_filter_page_and_detail(admin: Admin) -> None:
    _traffic(admin)
    rows = admin.api("GET", "logs").json()
    assert len(rows["logs"]) == 4
    assert rows["next_before_id"] is None
    assert rows["total"] is None
    assert [r["status_code"] for r in rows["logs"]] == [429, 200, 200, 200]  # newest first
    errors = admin.api("GET", "logs", params={"status": "error"}).json()["logs"]
    assert [r["provider_id"] for r in errors] == ["deepseek"]
    assert admin.api("GET", "logs", params={"provider": "mimo"}).json()["logs"][0]["client_model"] == "mimo-v2.5-pro"
    assert len(admin.api("GET", "logs", params={"model": "deepseek-v4-flash"}).json()["logs"]) == 1
    assert len(admin.api("GET", "logs", params={"stream": "true"}).json()["logs"]) == 0
    assert len(admin.api("GET", "logs", params={"endpoint": "/v1/responses", "status": "2xx"}).json()["logs"]) == 3
    first = admin.api("GET", "logs", params={"limit": 2}).json()
    assert len(first["logs"]) == 2
    assert first["next_before_id"] == first["logs"][-1]["id"]
    second = admin.api("GET", "logs", params={"limit": 2, "before_id": first["next_before_id"]}).json()
    assert len(second["logs"]) == 2
    assert second["next_before_id"] is None
    offset = admin.api("GET", "logs", params={"limit": 2, "offset": 2}).json()["logs"]
    assert [r["id"] for r in offset] == [r["id"] for r in second["logs"]]
    assert admin.api("GET", "logs", params={"offset": 9}).json()["logs"] == []
    newest = rows["logs"][0]
    window = admin.api("GET", "logs", params={"from": newest["ts"], "to": newest["ts"]}).json()["logs"]
    assert newest["id"] in [r["id"] for r in window]
    detail = admin.api("GET", f"logs/{newest['id']}").json()["log"]
    assert detail["error_code"] == "rate_limit_exceeded"
    assert "slow down" in (detail["response_body"] or detail["error_snippet"])
    assert admin.api("GET", "logs/999999").status_code == 404
    assert admin.api("GET", "logs/abc").status_code == 404


def test_bad_filters(admin: Admin) -> None:
    for params in (
        {"status": "3"},
        {"limit": "0"},
        {"limit": "x"},
        {"stream": "maybe"},
        {"offset": "-1"},
        {"from": "yesterday"},
    ):
        response = admin.api("GET", "logs", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["param"] == next(iter(params))


def test_export_streams_the_filtered_set(admin: Admin) -> None:
    _traffic(admin)
    exported = admin.api("GET", "logs/export", params={"format": "csv", "provider": "mimo"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(table) == 3
    assert {r["provider_id"] for r in table} == {"mimo"}
    assert "request_body" not in table[0]
    lines = admin.api("GET", "logs/export", params={"format": "jsonl"}).text.splitlines()
    assert [orjson.loads(line)["status_code"] for line in lines] == [429, 200, 200, 200]
    assert admin.api("GET", "logs/export", params={"format": "xml"}).status_code == 400


def test_prune(admin: Admin) -> None:
    _traffic(admin)
    assert admin.api("DELETE", "logs").json()["error"]["code"] == "missing_before"
    assert admin.api("DELETE", "logs", params={"before": 1}).json() == {"removed": 0}
    newest = admin.api("GET", "logs").json()["logs"][0]["ts"]
    assert admin.api("DELETE", "logs", params={"before": newest + 1}).json() == {"removed": 4}
    assert admin.api("GET", "logs").json()["logs"] == []


def test_a_broken_database_answers_503_never_500(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "data.db").write_bytes(b"this is not a database" * 100)
    harness = Admin(tmp_path, existing_data_dir=True)
    with harness.client:
        response = harness.api("GET", "logs")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "store_unavailable"
        assert harness.api("GET", "health").json()["store"]["status"] == "degraded"
