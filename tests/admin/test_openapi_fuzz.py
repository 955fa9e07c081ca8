"""Acceptance 1: the admin API fuzzed from its own OpenAPI document (schemathesis + hypothesis) on a real
socket: no 500, every status and body as documented. Bounded: a handful of examples per operation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mimo2codex.settings import load_settings
from mimo2codex.upstream import UpstreamRequest
from tests.admin.conftest import DS_KEY, MIMO_KEY
from tests.live import LiveGateway

#: examples per operation: enough to reach each parameter's edges, few enough to run in seconds
EXAMPLES = 6
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)


class AnsweringUpstream:
    """A vendor that answers every chat request with a short completion (what ``POST probe`` needs)."""

    class _Response:
        status = 200
        headers: Mapping[str, str] = {"content-type": "application/json"}

        async def read(self) -> bytes:
            return orjson.dumps(
                {
                    "id": "c",
                    "object": "chat.completion",
                    "model": "m",
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}
                    ],
                }
            )

        async def chunks(self, tick: float) -> AsyncIterator[bytes | None]:
            yield await self.read()

        def close(self) -> None:
            return None

    async def open(self, request: UpstreamRequest) -> Any:
        return self._Response()

    async def aclose(self) -> None:
        return None


@pytest.fixture
def admin_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # The process environment: what a live reload reads (as in production), so it must hold the keys.
    for name, value in {"MIMO_API_KEY": MIMO_KEY, "DS_API_KEY": DS_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    settings_ = load_settings()
    with LiveGateway(settings_, transport=AnsweringUpstream()) as gateway:  # type: ignore[arg-type]
        root = gateway.url.removesuffix("/v1")
        yield schemathesis.openapi.from_url(f"{root}/admin/api/openapi.json")


@pytest.mark.live
def test_admin_api_matches_its_openapi_document(admin_schema: Any) -> None:
    # The operations one by one (schemathesis' pytest plugin does not run on pytest 9 yet): each gets a
    # few hypothesis examples generated from its parameters and body schema.
    fuzzed = []
    for result in admin_schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/admin/api/events":
            continue  # an endless stream: tests/admin/test_events.py

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(checks=CHECKS, timeout=10)

        fuzz()
        fuzzed.append(f"{operation.method.upper()} {operation.path}")
    assert len(fuzzed) >= 30


def test_document_lists_every_route() -> None:
    from mimo2codex.admin.api import ROUTES
    from mimo2codex.admin.openapi import document

    doc = document(ROUTES)
    operations = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert {("/admin/api" + r.path) for r in ROUTES} == set(doc["paths"])
    assert len(operations) == len(ROUTES)
    node_routes = {
        ("GET", "/health"), ("GET", "/providers"), ("GET", "/generic-providers"), ("PUT", "/generic-providers"),
        ("GET", "/setup-snippets"), ("GET", "/providers/{id}/models"), ("POST", "/providers/{id}/models"),
        ("PATCH", "/models/{id}"), ("DELETE", "/models/{id}"), ("GET", "/aliases"), ("POST", "/aliases"),
        ("DELETE", "/aliases/{alias}"), ("GET", "/logs"), ("DELETE", "/logs"), ("GET", "/logs/{id}"),
        ("GET", "/mappings"), ("GET", "/stats"), ("GET", "/stats/timeseries"), ("GET", "/settings"),
        ("PUT", "/settings/{key}"), ("DELETE", "/settings/{key}"),
    }  # fmt: skip
    assert {(m, "/admin/api" + p) for m, p in node_routes} <= operations
    for item in doc["paths"].values():
        for operation in item.values():
            assert "default" in operation["responses"]
            assert operation["summary"]
