"""The admin API on the PostgreSQL store (a real throw-away server): the same routes, the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.postgres import PostgresStore
from tests.admin.conftest import Admin, chat_reply


@pytest.mark.live
def test_the_admin_runs_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    store = PostgresStore(postgres_url, policy=CapturePolicy.build("errors-only", 1 << 16, []))
    store.open()
    try:
        harness = Admin(tmp_path, store=store)
        with harness.client:
            alias = {"alias": "fast", "provider_id": "deepseek", "upstream_id": "deepseek-v4-flash"}
            assert harness.api("POST", "aliases", json=alias).status_code == 201
            created = harness.api("POST", "providers/mimo/models", json={"upstream_id": "mimo-next"})
            assert created.status_code == 201
            assert harness.api("PUT", "toggles/thinking", json={"value": False}).status_code == 200
            assert harness.api("PUT", "storage", json={"log_retention_days": 9}).status_code == 200
            harness.transport.replies.append(chat_reply())
            response = harness.ask("fast")
            assert response.headers["x-mimo2codex-provider"] == "deepseek"
            assert harness.transport.requests[-1]["body"]["model"] == "deepseek-v4-flash"
            assert store.flush(5.0)
            logs = harness.api("GET", "logs").json()["logs"]
            assert [row["client_model"] for row in logs] == ["fast"]
            board = harness.api("GET", "dashboard").json()
            assert board["summary"]["requests"] == 1
            assert harness.api("GET", "mappings").json()["mappings"][0]["upstream_model"] == "deepseek-v4-flash"
            settings = harness.api("GET", "settings").json()["settings"]
            assert settings["thinking"] is False
            assert settings["log_retention_days"] == 9
            assert harness.api("DELETE", f"models/{created.json()['model']['id']}").json() == {"deleted": True}
            assert harness.api("DELETE", "aliases/fast").json() == {"deleted": True}
    finally:
        store.close()
