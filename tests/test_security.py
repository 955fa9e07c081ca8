"""Security: inbound tokens, and upstream keys absent from every output channel in one run."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from mimo2codex import redaction
from mimo2codex.cli import main
from mimo2codex.server import create_app
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply
from tests.live import upstream_settings

# No recognisable vendor shape on purpose: it must be caught because it is *known*, not by pattern.
KEY = "plain-upstream-credential-9f3b7c"


def test_tokens_guard_every_route_but_health() -> None:
    settings = load_settings(
        {
            "GENERIC_BASE_URL": "http://127.0.0.1:9/v1",
            "GENERIC_API_KEY": "k",
            "GENERIC_DEFAULT_MODEL": "m",
            "MIMO2CODEX_AUTH_TOKENS": "tok-a,tok-b",
        }
    )
    with TestClient(create_app(settings, record_hooks=()), base_url="http://127.0.0.1:8788") as client:
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.post("/v1/responses", json={"input": []}).status_code == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer tok-b"}).status_code == 200
        assert (
            client.post("/v1/responses", json={"input": []}, headers={"Authorization": "Bearer tok-a"}).status_code
            == 200
        )
        assert client.get("/healthz").status_code == 200


def test_cli_refuses_a_public_bind_without_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GENERIC_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("GENERIC_API_KEY", "k")
    monkeypatch.setenv("GENERIC_DEFAULT_MODEL", "m")
    assert main(["--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in err
    assert "--insecure-no-auth" in err


@pytest.fixture
def redacted_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    previous = logging.getLogRecordFactory()
    redaction.install([KEY])  # what the CLI does at startup
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        logging.setLogRecordFactory(previous)


def test_upstream_key_reaches_no_log_error_dump_or_response(
    start_upstream: StartUpstream, start_gateway: StartGateway, redacted_logging: pytest.LogCaptureFixture
) -> None:
    echo = f"Incorrect API key provided: {KEY}. You can find your key at https://example.invalid."
    upstream = start_upstream(
        [
            Reply.text("hello there"),
            Reply.http_error(401, echo),
            Reply.text("partial answer", drop_after=2, error_event={"message": f"key {KEY} revoked mid-stream"}),
            Reply.http_error(429, f"slow down, {KEY}", headers={"Retry-After": "1"}),
        ],
        api_key=KEY,
    )
    gateway = start_gateway(upstream_settings(upstream, MIMO2CODEX_VERBOSE="1"))
    seen: list[str] = []
    with httpx.Client(base_url=gateway.url, timeout=20) as client:
        for stream in (True, True, True, False):
            response = client.post(
                "/responses", json={"model": "fake-model", "stream": stream, "input": f"my key is {KEY}"}
            )
            seen.append(response.text)
            seen.append(str(response.headers))
        seen.append(client.get("/models").text)
        seen.append(client.get(f"http://127.0.0.1:{gateway.port}/").text)
    # Each channel was exercised: a success, errors echoing the key, a verbose dump, records.
    assert "hello there" in seen[0]
    assert "Incorrect API key provided" in seen[2]
    assert "revoked mid-stream" in seen[4]
    assert "slow down" in seen[6]
    assert "translated upstream request" in redacted_logging.text
    assert len(gateway.wait_for_records(4)) == 4
    channels = {
        "responses": "\n".join(seen),
        "logs": redacted_logging.text,
        "records": repr(gateway.records),
    }
    for channel, text in channels.items():
        assert KEY not in text, f"the upstream key leaked into {channel}"
    assert upstream.violations == []
