"""Inbound auth: loopback stays open, anything else needs tokens or a loud opt-out."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mimo2codex.auth import BearerAuthMiddleware, check_bind, is_loopback
from mimo2codex.errors import ConfigError
from mimo2codex.secret import Secret


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, [], insecure_no_auth=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "my-host.example"])
def test_public_bind_without_tokens_is_refused(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="MIMO2CODEX_AUTH_TOKENS") as excinfo:
        check_bind(host, [], insecure_no_auth=False)
    assert "--insecure-no-auth" in str(excinfo.value)
    check_bind(host, [Secret("t0ken-value")], insecure_no_auth=False)
    check_bind(host, [], insecure_no_auth=True)


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _client() -> TestClient:
    app = Starlette(routes=[Route("/v1/models", _ok), Route("/healthz", _ok)])
    return TestClient(BearerAuthMiddleware(app, [Secret("first-token"), Secret("second-token")]))


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic first-token"}, 401),
        ({"Authorization": "Bearer first-token"}, 200),
        ({"Authorization": "bearer second-token"}, 200),
        ({"x-api-key": "second-token"}, 200),
    ],
)
def test_tokens_are_checked(headers: dict[str, str], status: int) -> None:
    response = _client().get("/v1/models", headers=headers)
    assert response.status_code == status
    if status == 401:
        error = response.json()["error"]
        assert error["type"] == "authentication_error"
        assert error["code"] == "invalid_api_key"
        assert "first-token" not in response.text
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_health_probe_needs_no_token() -> None:
    assert _client().get("/healthz").status_code == 200
