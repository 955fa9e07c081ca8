"""Acceptance 3: a hostile page, a foreign Host, a form post, a public bind without a token: each refused,
nothing changed. Also the headers every admin response carries, and no key ever crossing the admin."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mimo2codex.admin.security import CONTENT_SECURITY_POLICY, HostPolicy, host_name, is_json, same_origin
from mimo2codex.server import create_app
from mimo2codex.settings import load_settings
from tests.admin.conftest import ACME, ACME_KEY, DS_KEY, MIMO_KEY, ORIGIN, Admin, chat_reply
from tests.conftest import StartGateway
from tests.fakes.transport import ScriptedTransport

ACME_JSON = {"providers": [ACME]}


def _unchanged(admin: Admin) -> None:
    assert not admin.providers_file.exists()
    assert admin.transport.requests == []
    assert admin.api("GET", "toggles").json()["toggles"][0]["value"] is True  # thinking still on


def test_cross_origin_post_is_refused_and_changes_nothing(admin: Admin) -> None:
    for origin in ("http://evil.example", "null", "http://127.0.0.1:9999", "https://localhost.evil.example:8788"):
        response = admin.api("PUT", "generic-providers", json=ACME_JSON, headers={"Origin": origin})
        assert response.status_code == 403, origin
        assert response.json()["error"]["code"] == "cross_origin"
        response = admin.api("PUT", "toggles/thinking", json={"value": False}, headers={"Origin": origin})
        assert response.status_code == 403
    cross_site = admin.api("PUT", "toggles/thinking", json={"value": False}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert cross_site.json()["error"]["code"] == "cross_site"
    assert admin.api("GET", "logs", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    _unchanged(admin)
    # the same requests from the admin's own page pass
    same = admin.api(
        "PUT", "toggles/thinking", json={"value": False}, headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
    )
    assert same.status_code == 200
    assert same.json()["toggle"]["value"] is False


def test_form_encoded_and_text_posts_are_refused(admin: Admin) -> None:
    form = admin.api("PUT", "generic-providers", content=json.dumps(ACME_JSON), headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "json_required"
    posted = admin.client.post("/admin/api/probe", data={"provider": "mimo"})
    assert posted.status_code == 415
    bare = admin.client.post("/admin/api/probe", content=b'{"provider": "mimo"}')  # no content type at all
    assert bare.status_code == 415
    # /v1: a page can neither spend tokens through a simple (unpreflighted) request...
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        spent = admin.client.post(
            "/v1/responses", content=b'{"model":"mimo-v2.5","input":"hi"}', headers={"Content-Type": content_type}
        )
        assert spent.status_code == 415, content_type
        assert "Content-Type: application/json" in spent.json()["error"]["message"]
    _unchanged(admin)
    # ...while JSON (what Codex and the OpenAI SDK send) works
    admin.transport.replies.append(chat_reply())
    assert (
        admin.client.post(
            "/v1/responses",
            content=b'{"model":"mimo-v2.5","input":"hi"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        ).status_code
        == 200
    )


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8788", "127.0.0.1.nip.io:8788", "192.168.1.9:8788", ""])
def test_foreign_host_is_refused_everywhere(admin: Admin, host: str) -> None:
    headers = {"Host": host}
    for method, path, body in (
        ("GET", "/admin/api/providers", None),
        ("GET", "/admin/", None),
        ("PUT", "/admin/api/generic-providers", ACME_JSON),
        ("POST", "/v1/responses", {"model": "mimo-v2.5", "input": "hi"}),
        ("GET", "/v1/models", None),
    ):
        response = admin.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "host_not_allowed"
    assert admin.client.get("/healthz", headers=headers).status_code == 200  # liveness probes keep working
    _unchanged(admin)


@pytest.mark.parametrize("host", ["localhost:8788", "127.0.0.1", "[::1]:8788", "LOCALHOST"])
def test_loopback_names_are_accepted(admin: Admin, host: str) -> None:
    assert admin.client.get("/admin/api/health", headers={"Host": host}).status_code == 200


def _public(tmp_path: Path, **env: str) -> TestClient:
    values = {"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO2CODEX_HOST": "0.0.0.0", **env}
    return TestClient(create_app(load_settings(values), env=values), base_url="http://gateway.lan:8788")


def test_beyond_loopback_without_a_token_the_admin_is_closed(tmp_path: Path) -> None:
    with _public(tmp_path, MIMO2CODEX_INSECURE_NO_AUTH="1") as client:
        for method, path in (("GET", "providers"), ("PUT", "toggles/thinking"), ("GET", "health")):
            response = client.request(method, f"/admin/api/{path}", json={"value": False})
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "admin_closed"
            assert "MIMO2CODEX_ADMIN_TOKEN" in response.json()["error"]["message"]
        assert client.app.state.gateway.settings.thinking is True  # type: ignore[attr-defined]


def test_beyond_loopback_the_admin_takes_the_inbound_token_or_its_own(tmp_path: Path) -> None:
    with _public(tmp_path, MIMO2CODEX_AUTH_TOKENS="inbound-tok") as client:
        assert client.get("/admin/api/providers").status_code == 401
        assert client.get("/admin/api/providers", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/admin/api/providers", headers={"Authorization": "Bearer inbound-tok"}).status_code == 200
        assert client.get("/admin/").status_code == 200  # the page shell holds no data; it asks for the token
    with _public(tmp_path, MIMO2CODEX_AUTH_TOKENS="inbound-tok", MIMO2CODEX_ADMIN_TOKEN="admin-tok") as client:
        assert client.get("/admin/api/providers", headers={"Authorization": "Bearer inbound-tok"}).status_code == 401
        ok = client.put(
            "/admin/api/toggles/thinking", json={"value": False}, headers={"Authorization": "Bearer admin-tok"}
        )
        assert ok.status_code == 200
        # the admin token is not an inbound token: /v1 still wants the inbound one
        assert client.get("/v1/models", headers={"Authorization": "Bearer admin-tok"}).status_code == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer inbound-tok"}).status_code == 200


def test_every_admin_response_carries_the_security_headers(admin: Admin) -> None:
    for path in ("/admin/api/health", "/admin/", "/admin/api/nope"):
        response = admin.client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    refused = admin.client.get("/admin/api/health", headers={"Host": "evil.example"})
    assert refused.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert admin.client.get("/admin/api/health").headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in admin.client.get("/v1/models").headers


def test_no_key_is_shown_or_accepted(admin: Admin) -> None:
    everything = "".join(
        admin.api("GET", path).text for path in ("providers", "health", "setup-snippets", "toggles", "settings")
    )
    for key in (MIMO_KEY, DS_KEY, ACME_KEY):
        assert key not in everything
    with_key = {"providers": [{**ACME, "apiKey": "sk-abcdefghijklmnopqrstuvwx"}]}
    refused = admin.api("PUT", "generic-providers", json=with_key)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "key_refused"
    assert "environment variable" in refused.json()["error"]["message"]
    assert refused.json()["error"]["param"] == "providers[0].apiKey"
    looks_like_key = {"providers": [{**ACME, "features": {"extraBody": {"x": "sk-abcdefghijklmnopqrstuvwx"}}}]}
    assert admin.api("PUT", "generic-providers", json=looks_like_key).json()["error"]["code"] == "key_refused"
    in_url = {"providers": [{**ACME, "baseUrl": "https://api.acme.example/v1?key=abcdef123456"}]}
    assert admin.api("PUT", "generic-providers", json=in_url).json()["error"]["param"] == "providers[0].baseUrl"
    known_key = {"providers": [{**ACME, "displayName": MIMO_KEY}]}
    assert admin.api("PUT", "generic-providers", json=known_key).json()["error"]["code"] == "key_refused"
    for key in ("api_key", "MIMO_API_KEY", "token"):
        setting = admin.api("PUT", f"settings/{key}", json={"value": "x"})
        assert setting.status_code == 400
        assert setting.json()["error"]["code"] == "forbidden_setting"
    model_key = admin.api("POST", "providers/mimo/models", json={"upstream_id": "x", "api_key": "sk-abcdefghijklmnop1"})
    assert model_key.status_code == 400
    assert not admin.providers_file.exists()
    assert admin.api("GET", "settings").json()["settings"] == {}


def test_policy_helpers() -> None:
    assert host_name("[::1]:8788") == "::1"
    assert host_name("LocalHost:80") == "localhost"
    assert host_name("127.0.0.1") == "127.0.0.1"
    assert HostPolicy.for_bind("0.0.0.0").allows("anything.example")
    assert HostPolicy.for_bind("192.168.1.5").allows("192.168.1.5:8788")
    assert not HostPolicy.for_bind("192.168.1.5").allows("evil.example")
    assert not HostPolicy.for_bind("127.0.0.1").allows(None)
    assert is_json("application/json; charset=utf-8")
    assert is_json("application/merge-patch+json")
    assert not is_json("text/plain")
    assert not is_json(None)
    assert not is_json("application/x-www-form-urlencoded")
    assert same_origin("http://127.0.0.1:8788", "127.0.0.1:8788")
    assert not same_origin("http://127.0.0.1:8788", "localhost:8788")
    assert not same_origin("null", "127.0.0.1:8788")


def test_with_no_admin_the_routes_are_gone_but_v1_stays_guarded(tmp_path: Path) -> None:
    values = {"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO2CODEX_NO_ADMIN": "1"}
    with TestClient(create_app(load_settings(values), env=values), base_url=ORIGIN) as client:
        assert client.get("/admin/api/providers").status_code == 404
        assert client.get("/admin/").status_code == 404
        assert client.get("/v1/models", headers={"Host": "evil.example"}).status_code == 403
        assert client.post("/v1/responses", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415


@pytest.mark.live
def test_a_client_that_sends_its_whole_body_first_reads_the_refusal(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    settings = load_settings({"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path)})
    gateway = start_gateway(settings, transport=ScriptedTransport())
    form = urllib.request.Request(f"{gateway.url}/responses", data=b"input=" + b"x" * 300_000, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(form, timeout=10)  # urllib's default: application/x-www-form-urlencoded
    assert caught.value.code == 415
    assert b"json_required" in caught.value.read()


#: far over the 1 MiB the guard used to drain (the loopback buffers hold a few MiB): past it, a client still
#: sending saw a reset, not the refusal
BIG_BODY = 24 << 20


@pytest.mark.live
@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/v1/responses", {}, 415, "json_required"),  # urllib's default type: a form
        (
            "/admin/api/aliases",
            {"Content-Type": "application/json", "Origin": "http://evil.example"},
            403,
            "cross_origin",
        ),
        ("/admin/api/aliases", {"Content-Type": "application/json"}, 401, "admin_token_required"),
    ],
)
def test_every_guard_refusal_of_a_big_upload_is_read_by_the_client(
    start_gateway: StartGateway, tmp_path: Path, path: str, headers: dict[str, str], status: int, code: str
) -> None:
    env = {"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO2CODEX_AUTH_TOKENS": "inbound-tok"}
    gateway = start_gateway(load_settings(env), transport=ScriptedTransport())
    origin = gateway.url.removesuffix("/v1")
    upload = urllib.request.Request(f"{origin}{path}", data=b"input=" + b"x" * BIG_BODY, headers=headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(upload, timeout=20)  # sends the whole body before it reads a byte
    assert caught.value.code == status
    assert caught.value.headers["connection"] == "close"
    assert json.loads(caught.value.read())["error"]["code"] == code
    listed = urllib.request.Request(f"{origin}/admin/api/aliases", headers={"Authorization": "Bearer inbound-tok"})
    with urllib.request.urlopen(listed, timeout=10) as answer:
        assert json.loads(answer.read())["aliases"] == []  # nothing changed
