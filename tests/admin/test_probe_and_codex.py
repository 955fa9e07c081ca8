"""``POST probe`` through the gateway's transport, and the Codex setup routes."""

from __future__ import annotations

from pathlib import Path

from tests.admin.conftest import MIMO_KEY, Admin, chat_reply
from tests.fakes.transport import FakeReply


def test_probe_answers_latency_and_sample(admin: Admin) -> None:
    admin.transport.replies.append(chat_reply("pong"))
    result = admin.api("POST", "probe", json={"provider": "mimo", "model": "mimo-v2.5"}).json()
    assert result["ok"] is True
    assert result["sample"] == "pong"
    assert result["status"] == 200
    assert result["latency_ms"] >= 0
    sent = admin.transport.requests[-1]
    assert sent["path"] == "/chat/completions"
    assert sent["body"]["model"] == "mimo-v2.5"
    assert sent["body"]["stream"] is False
    assert admin.records == []  # not client traffic: not in the request log


def test_probe_reports_the_exact_upstream_error(admin: Admin) -> None:
    admin.transport.replies.append(
        FakeReply.json(
            {"error": {"message": f"Incorrect API key provided: {MIMO_KEY}", "code": "invalid_api_key"}}, status=401
        )
    )
    result = admin.api("POST", "probe", json={"provider": "mimo"}).json()
    assert result["ok"] is False
    assert result["status"] == 401
    assert "Incorrect API key provided" in result["error"]["message"]
    assert MIMO_KEY not in result["error"]["message"]
    assert result["model"] == "mimo-v2.5-pro"  # the provider's default model


def test_probe_errors(admin: Admin) -> None:
    assert admin.api("POST", "probe", json={}).status_code == 400
    assert admin.api("POST", "probe", json={"provider": "nobody"}).status_code == 404
    keyless = admin.api("POST", "probe", json={"provider": "acme"})
    assert keyless.status_code == 404  # not configured at all


def test_codex_enable_then_restore_is_byte_identical(admin: Admin, tmp_path: Path) -> None:
    home = Path(admin.env["CODEX_HOME"])
    home.mkdir()
    original = b'# my settings\nmodel = "gpt-5"\n\n[projects."/src"]\ntrust_level = "trusted"\n'
    (home / "config.toml").write_bytes(original)
    assert admin.api("GET", "codex/status").json()["enabled"] is False
    enabled = admin.api("POST", "codex/enable", json={"model": "ds", "keep_login": True})
    assert enabled.status_code == 200, enabled.text
    state = enabled.json()
    assert state["enabled"] is True
    assert state["provider_key"] == "mimo2codex"
    text = (home / "config.toml").read_text()
    assert "# my settings" in text
    assert '[projects."/src"]' in text
    assert "127.0.0.1:8788" in text
    assert not (home / "auth.json").exists()  # the login is kept
    assert admin.gateway.router.default.id == "mimo"  # enabling for DeepSeek changes Codex, not the gateway
    restored = admin.api("POST", "codex/restore", json={})
    assert restored.status_code == 200
    assert restored.json()["enabled"] is False
    assert (home / "config.toml").read_bytes() == original
    again = admin.api("POST", "codex/restore", json={})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "nothing_to_restore"
    assert admin.api("POST", "codex/enable", json={"model": "nobody"}).status_code == 400
    assert admin.api("POST", "codex/enable", json={"keep_login": "yes"}).status_code == 400
