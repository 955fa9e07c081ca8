"""The admin API in process: the real app (SQLite store in a temp data dir) with a scripted upstream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mimo2codex.request_log import RequestRecord
from mimo2codex.server import create_app
from mimo2codex.settings import Settings, load_settings
from mimo2codex.store.base import Store
from tests.fakes.transport import FakeReply, ScriptedTransport

ORIGIN = "http://127.0.0.1:8788"
MIMO_KEY = "sk-test-mimo-key-0123456789"
DS_KEY = "sk-test-deepseek-key-0123456789"
ACME_KEY = "acme-secret-credential-42"


def chat_reply(text: str = "pong", *, model: str = "m", usage: dict[str, int] | None = None) -> FakeReply:
    return FakeReply.json(
        {
            "id": "c1",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage or {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
        }
    )


class Admin:
    """One gateway with its admin: ``client`` speaks to it from loopback, ``api()`` to /admin/api."""

    def __init__(
        self,
        tmp: Path,
        extra_env: dict[str, str] | None = None,
        providers: Any = None,
        *,
        existing_data_dir: bool = False,
        store: Store | None = None,
        load: Callable[[Mapping[str, str]], Settings] = load_settings,
    ) -> None:
        self.data_dir = tmp / "data"
        self.data_dir.mkdir(exist_ok=existing_data_dir)
        self.providers_file = self.data_dir / "providers.json"
        if providers is not None:
            self.providers_file.write_text(json.dumps({"providers": providers}, indent=2))
        self.env = {
            "MIMO_API_KEY": MIMO_KEY,
            "DS_API_KEY": DS_KEY,
            "ACME_API_KEY": ACME_KEY,
            "MIMO2CODEX_DATA_DIR": str(self.data_dir),
            "MIMO2CODEX_MAX_RETRIES": "0",
            "CODEX_HOME": str(tmp / "codex"),
            **(extra_env or {}),
        }
        self.settings = load(self.env)  # startup_settings: as `mimo2codex` starts (the stored settings)
        self.transport = ScriptedTransport()
        self.records: list[RequestRecord] = []
        self.app = create_app(
            self.settings, transport=self.transport, store=store, record_hooks=[self.records.append], env=self.env
        )
        self.client = TestClient(self.app, base_url=ORIGIN, raise_server_exceptions=False)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, f"/admin/api/{path}", **kwargs)

    def ask(self, model: str, text: str = "hi") -> Any:
        return self.client.post("/v1/responses", json={"model": model, "input": text, "stream": False})

    @property
    def gateway(self) -> Any:
        return self.app.state.gateway

    def flush(self) -> None:
        assert self.gateway.store.flush(5.0)


ACME = {
    "id": "acme",
    "baseUrl": "https://api.acme.example/v1",
    "envKey": "ACME_API_KEY",
    "defaultModel": "acme-large",
    "models": [{"id": "acme-large", "contextWindow": 128000}],
}


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    harness = Admin(tmp_path)
    with harness.client:
        yield harness
