"""The admin's main flows, driven in the real browser in English and Chinese, against the live gateway
and fake vendors: what a user clicks must change what the gateway does, at once."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SECOND_KEY_ENV, Admin, Tab, open_admin, screenshot

pytestmark = pytest.mark.live

#: what Chromium logs for a fetch the server refused (the flows below provoke some on purpose)
REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


def respond(admin: Admin, model: str, text: str) -> dict[str, Any]:
    with httpx.Client(base_url=admin.gateway.url, timeout=10) as client:
        response = client.post("/responses", json={"model": model, "input": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def api(admin: Admin, path: str, **params: str) -> Any:
    with httpx.Client(base_url=admin.origin, timeout=10) as client:
        response = client.get(f"/admin/api/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def wait_logged(admin: Admin, model: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Poll the log until ``count`` rows of ``model`` are written (the store writes in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        rows: list[dict[str, Any]] = api(admin, "logs", model=model)["logs"]
        if len(rows) >= count or time.monotonic() > deadline:
            assert len(rows) == count, rows
            return rows
        time.sleep(0.05)


def saved_ok(page: Any, selector: str) -> None:
    """Wait for a form's result notice (ok or bad; the page empties it when the form is sent); fail with
    its text when it is not a success."""
    page.wait_for_selector(f"{selector}.ok, {selector}.bad")
    assert "ok" in (page.get_attribute(selector, "class") or ""), page.locator(selector).inner_text()


def output_text(response: dict[str, Any]) -> str:
    return "".join(
        part.get("text", "") for item in response["output"] if item["type"] == "message" for part in item["content"]
    )


def test_add_a_provider_in_the_form_and_route_to_it_at_once(tab: Tab, admin: Admin) -> None:
    provider_id, model = f"second-{tab.lang}", f"second-{tab.lang}-model"
    page = open_admin(tab, admin, "providers")
    # inline validation first: nothing is sent while a field is wrong
    page.fill("#p-id", "Bad Id")
    page.fill("#p-base-url", "not a url")
    page.click("#provider-form button[type=submit]")
    assert page.locator("#provider-form .field.invalid").count() >= 2
    assert page.get_attribute("#p-base-url", "aria-invalid") == "true"
    page.fill("#p-id", provider_id)
    page.fill("#p-name", f"Second ({tab.lang})")
    page.fill("#p-base-url", admin.second.url)
    page.fill("#p-env-key", SECOND_KEY_ENV)
    page.fill("#p-default-model", model)
    page.fill("#p-models", model)
    before = len(admin.second.requests)
    with page.expect_response(lambda r: r.url.endswith("/admin/api/generic-providers") and r.request.method == "PUT"):
        page.click("#provider-form button[type=submit]")
    saved_ok(page, "#provider-result")
    expect(page.locator("#providers-table code", has_text=provider_id)).to_have_count(1)
    # the very next request goes to the new provider: no restart
    answer = respond(admin, model, "route me")
    assert output_text(answer) == "hello from the second vendor"
    assert [e.body["model"] for e in admin.second.requests[before:]] == [model]
    assert admin.second.violations == []
    saved = json.loads((admin.data_dir / "providers.json").read_text(encoding="utf-8"))
    assert {"id": provider_id, "envKey": SECOND_KEY_ENV}.items() <= next(
        p for p in saved["providers"] if p["id"] == provider_id
    ).items()
    assert "sk-second-vendor" not in (admin.data_dir / "providers.json").read_text(encoding="utf-8")
    assert tab.take_errors() == []


def test_an_invalid_raw_json_is_refused_with_the_field_named(tab: Tab, admin: Admin) -> None:
    page = open_admin(tab, admin, "providers")
    path = admin.data_dir / "providers.json"
    before = path.read_bytes() if path.exists() else None
    # broken syntax: refused in the page, with the line
    page.fill("#raw-json", '{"providers": [\n  {"id": "x",}\n]}')
    page.click("#raw-form button[type=submit]")
    page.wait_for_selector("#raw-form .field.invalid")
    assert re.search(r"2", page.locator("#raw-result").inner_text())
    # valid JSON the loader refuses: the server's message names the field
    bad = {
        "providers": [{"id": "broken", "baseUrl": "ftp://example.com/v1", "envKey": "X_API_KEY", "defaultModel": "m"}]
    }
    page.fill("#raw-json", json.dumps(bad, indent=2))
    with page.expect_response(
        lambda r: r.url.endswith("/admin/api/generic-providers") and r.request.method == "PUT"
    ) as info:
        page.click("#raw-form button[type=submit]")
    assert info.value.status == 400
    page.wait_for_selector("#raw-result.bad")
    message = page.locator("#raw-result").inner_text()
    assert "baseUrl" in message
    assert page.locator("#raw-json").get_attribute("aria-invalid") == "true"
    # an API key typed into the file is refused too, and never written
    leaked = {
        "providers": [
            {
                "id": "leak",
                "baseUrl": "https://example.com/v1",
                "apiKey": "sk-abcdefghijklmnopqrstuvwxyz123456",
                "defaultModel": "m",
            }
        ]
    }
    page.fill("#raw-json", json.dumps(leaked))
    page.click("#raw-form button[type=submit]")
    expect(page.locator("#raw-result")).to_contain_text("apiKey")
    assert (path.read_bytes() if path.exists() else None) == before  # the working file stayed
    assert all(REFUSED.match(e) for e in tab.take_errors())


def test_filter_the_logs_and_open_a_detail(tab: Tab, admin: Admin) -> None:
    model = f"logs-filter-{tab.lang}"
    respond(admin, "fake-model", "not this one")
    respond(admin, model, "find me <script>window.__pwned=1</script>")
    wait_logged(admin, model, 1)
    page = open_admin(tab, admin, "logs")
    assert page.locator("#logs-table tbody tr").count() >= 2
    page.fill("#f-model", model)
    with page.expect_response(lambda r: "/admin/api/logs?" in r.url):
        page.click("#filters button[type=submit]")
    expect(page.locator("#logs-table tbody tr")).to_have_count(1)
    assert model in page.locator("#logs-table tbody tr").inner_text()
    assert f"model={model}" in page.url  # the filter survives a reload
    page.click("#logs-table [data-open]")
    page.wait_for_selector("#detail:not(.hidden) #detail-request .item")
    request = page.locator("#detail-request").inner_text()
    assert "find me <script>window.__pwned=1</script>" in request
    assert page.evaluate("window.__pwned") is None
    assert "hello from the fake" in page.locator("#detail-response").inner_text()
    assert model in page.locator("#detail-meta").inner_text()
    page.evaluate("document.activeElement.blur()")
    screenshot(page, f"logs-detail-{tab.lang}")
    page.click("#detail-raw")
    raw = page.locator("#detail-request pre.raw").inner_text()
    assert json.loads(raw)["model"] == model
    # the export is the filtered set
    with page.expect_download() as download:
        page.click("#export-jsonl")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["client_model"] for line in lines] == [model]
    assert tab.take_errors() == []


def test_dashboard_figures_equal_the_requests_just_made(tab: Tab, admin: Admin) -> None:
    model = f"dash-{tab.lang}"
    page = open_admin(tab, admin, "")
    page.wait_for_selector("#live-dot.on")  # the live feed is connected: the page refreshes itself
    answers = [respond(admin, model, "count me " * n) for n in (1, 2, 3)]
    prompt = sum(a["usage"]["input_tokens"] for a in answers)
    completion = sum(a["usage"]["output_tokens"] for a in answers)
    row = page.locator("#models-table tbody tr", has_text=model)
    expect(row.locator("td").nth(2)).to_have_text("3")  # after the live refreshes the requests caused
    cells = row.locator("td").all_inner_texts()
    # provider, model, requests, errors, input, cached, output, p50, p95
    assert cells[2:5] == ["3", "0", str(prompt)]
    assert cells[6] == str(completion)
    records = [
        r for r in admin.gateway.records if r.endpoint.endswith("/responses") or r.endpoint.endswith("/completions")
    ]
    total = page.locator('[data-card="requests"] .value').inner_text()
    assert total.replace(",", "") == str(len(records))
    # another range: one more summary call, the button pressed
    with page.expect_response(lambda r: r.url.endswith("/admin/api/dashboard?range=7d")):
        page.click('[data-range="7d"]')
    assert page.get_attribute('[data-range="7d"]', "aria-pressed") == "true"
    expect(page.locator('[data-card="requests"] .value')).to_have_text(total)
    page.click('[data-range="24h"]')
    # a recent request opens in the log's detail view
    recent = page.locator("#recent-table tbody tr", has_text=model).first
    with page.expect_navigation():
        recent.locator("a").click()
    page.wait_for_selector("#detail:not(.hidden) #detail-response .item")
    assert model in page.locator("#detail-meta").inner_text()
    assert tab.take_errors() == []


def test_toggle_thinking_and_the_next_upstream_request_shows_it(tab: Tab, admin: Admin) -> None:
    # a provider from the Qwen preset (its thinking switch is enable_thinking), served by the second fake
    page = open_admin(tab, admin, "providers")
    page.select_option("#p-preset", "qwen")
    assert page.input_value("#p-env-key") == "DASHSCOPE_API_KEY"  # the preset filled the form
    page.fill("#p-id", f"thinker-{tab.lang}")
    page.fill("#p-base-url", admin.second.url)
    page.fill("#p-env-key", SECOND_KEY_ENV)
    page.click("#provider-form button[type=submit]")
    saved_ok(page, "#provider-result")

    def thinking_sent() -> Any:
        start = len(admin.second.requests)
        respond(admin, "qwen-plus", "think?")
        return admin.second.requests[start].body.get("enable_thinking")

    page = open_admin(tab, admin, "settings")
    box = page.locator("#toggle-thinking")
    initially = box.is_checked()
    assert thinking_sent() is initially
    for wanted in (not initially, initially):
        box.focus()
        with page.expect_response(lambda r: "/admin/api/toggles/thinking" in r.url):
            page.keyboard.press("Space")  # by keyboard
        saved_ok(page, "#toggles-result")
        assert box.is_checked() is wanted
        assert page.evaluate("document.activeElement.id") == "toggle-thinking"  # focus kept
        assert thinking_sent() is wanted  # the very next request
    assert admin.second.violations == []
    assert tab.take_errors() == []


def test_codex_enable_then_restore_leaves_config_toml_byte_identical(tab: Tab, admin: Admin) -> None:
    config = admin.codex_home / "config.toml"
    original = (
        b'# my settings\nmodel = "o3"   # keep this comment\n\n[projects."/home/me/work"]\ntrust_level = "trusted"\n\n'
        b'[mcp_servers.docs]\ncommand = "npx"\nargs = ["-y", "docs-server"]\n'
    )
    config.write_bytes(original)
    page = open_admin(tab, admin, "setup")
    assert page.locator("#codex-restore").is_disabled()
    page.check("#codex-keep-login")
    with page.expect_response(lambda r: r.url.endswith("/admin/api/codex/enable")):
        page.click("#codex-enable")
    saved_ok(page, "#codex-result")
    changed = config.read_text(encoding="utf-8")
    assert "mimo2codex" in changed
    assert "[mcp_servers.docs]" in changed
    assert "# keep this comment" in changed
    assert not (admin.codex_home / "auth.json").exists()  # the ChatGPT login was kept
    page.click("#codex-restore")
    page.click("dialog [data-confirm]")
    page.wait_for_selector("#codex-restore[disabled]")  # drawn from restore's answer
    saved_ok(page, "#codex-result")
    assert config.read_bytes() == original
    # the snippet tabs: keyboard between them, copy what is shown
    page.click("#tab-config_toml")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-auth_json"
    assert page.locator("#panel-auth_json").is_visible()
    assert tab.take_errors() == []


def test_probe_a_provider_from_its_row(tab: Tab, admin: Admin) -> None:
    page = open_admin(tab, admin, "providers")
    with page.expect_response(lambda r: r.url.endswith("/admin/api/probe")):
        page.click('[data-probe="fake"]')
    saved_ok(page, "#probe-result")
    assert "hello from the fake" in page.locator("#probe-result").inner_text()
    assert page.locator('[data-probe="mimo"]').is_disabled()  # no key: nothing to test
    assert tab.take_errors() == []


def test_prune_asks_first_and_reports_what_it_deleted(tab: Tab, admin: Admin) -> None:
    page = open_admin(tab, admin, "logs")
    rows = page.locator("#logs-table tbody tr").count()
    page.click("#prune button[type=submit]")
    assert page.get_attribute("#prune-before", "aria-invalid") == "true"  # no date: nothing sent
    page.fill("#prune-before", "2020-01-01")
    page.click("#prune button[type=submit]")
    page.click("dialog button[value=cancel]")  # cancelled: nothing deleted, nothing sent
    assert page.locator("#prune-result").inner_text() == ""
    page.click("#prune button[type=submit]")
    with page.expect_response(lambda r: "/admin/api/logs?before=" in r.url and r.request.method == "DELETE"):
        page.click("dialog [data-confirm]")
    saved_ok(page, "#prune-result")
    assert re.search(r"\b0\b", page.locator("#prune-result").inner_text())
    assert page.locator("#logs-table tbody tr").count() == rows  # only older rows go
    assert tab.take_errors() == []


def test_models_and_aliases_change_routing_at_once(tab: Tab, admin: Admin) -> None:
    alias, custom = f"alias-{tab.lang}", f"custom-{tab.lang}"
    page = open_admin(tab, admin, "models?provider=second-en")
    # a catalog provider: its built-in models are read-only (no delete button)
    assert page.locator("#models-table tbody tr", has_text="second-en-model").locator("button").count() == 0
    page.fill("#m-id", custom)
    page.fill("#m-window", "64000")
    page.click("#model-form button[type=submit]")
    saved_ok(page, "#model-result")
    row = page.locator("#models-table tbody tr", has_text=custom)
    assert "64,000" in row.inner_text() or "64000" in row.inner_text()
    start = len(admin.second.requests)
    respond(admin, custom, "to the custom model")
    assert admin.second.requests[start].body["model"] == custom
    # an alias routes a name Codex may send to a provider's model
    page.fill("#a-alias", alias)
    page.select_option("#a-provider", "second-en")
    page.fill("#a-upstream", "second-en-model")
    page.click("#alias-form button[type=submit]")
    saved_ok(page, "#alias-result")
    start = len(admin.second.requests)
    respond(admin, alias, "by its alias")
    assert admin.second.requests[start].body["model"] == "second-en-model"
    # delete both (each asks first)
    for table, name in (("#aliases-table", alias), ("#models-table", custom)):
        page.locator(f"{table} tbody tr", has_text=name).locator("button").click()
        page.click("dialog [data-confirm]")
        expect(page.locator(f"{table} tbody tr", has_text=name)).to_have_count(0)
    assert admin.second.violations == []
    assert tab.take_errors() == []
