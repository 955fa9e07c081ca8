"""Every admin page, in English and Chinese: it loads with no console error, is translated, works by
keyboard, and is photographed light and dark at 1280 and 800 px (test-artifacts/screenshots/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mimo2codex.admin.pages import PAGES
from mimo2codex.settings import load_settings
from tests.browser.conftest import ROOT, Admin, Tab, open_admin, screenshot
from tests.live import LiveGateway

pytestmark = pytest.mark.live

DICTIONARIES = {
    lang: json.loads((ROOT / "mimo2codex" / "admin" / "static" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    for lang in ("en", "zh")
}


API_CALLS = {
    "dashboard": ["dashboard?range=24h", "events"],
    "logs": ["logs?limit=50", "providers"],
    "models": ["aliases", "mappings", "providers", "providers/fake/models"],
    "providers": ["generic-providers", "providers"],
    "setup": ["codex/status", "setup-snippets"],
    "settings": ["health", "storage", "toggles"],
}
SHOWN_COLUMNS = """() => [...document.querySelectorAll('table')].filter((table) => {
  const shown = (cells) => [...cells].filter((c) => c.offsetParent !== null && getComputedStyle(c).display !== 'none').length;
  const row = table.querySelector('tbody tr');
  return row && !row.querySelector('td[colspan]') && shown(table.querySelectorAll('thead th')) !== shown(row.children);
}).map((table) => table.id)"""


def _traffic(admin: Admin) -> None:
    """A couple of requests so the dashboard and logs have something to draw."""
    with httpx.Client(base_url=admin.gateway.url, timeout=10) as client:
        for text in ("hello", "again"):
            response = client.post("/responses", json={"model": "fake-model", "input": text})
            assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_translated_without_console_errors(tab: Tab, admin: Admin, name: str) -> None:
    if name == "dashboard":
        _traffic(admin)
    calls: list[str] = []

    def seen(request: Any) -> None:
        if "/admin/api/" in request.url:
            calls.append(request.url.split("/admin/api/", 1)[1])

    tab.page.on("request", seen)
    try:
        page = open_admin(tab, admin, PAGES[name])
    finally:
        tab.page.remove_listener("request", seen)
    # what a page asks the API for: the dashboard one summary call (plus the live feed), never a poll
    # per chart; the log one keyset page; nothing whose cost grows with the log
    assert sorted(calls) == API_CALLS[name]
    words = DICTIONARIES[tab.lang]
    assert page.title() == f"{words[f'nav.{name}']} · mimo2codex"
    assert page.locator("h1").first.inner_text() != ""
    # every static string was replaced by the page's language
    for element in page.locator("[data-i18n]").all()[:40]:
        key = element.get_attribute("data-i18n")
        assert key is not None
        assert element.text_content() == words[key]
    assert page.locator(f'nav a[aria-current="page"][data-nav="{name}"]').count() == 1
    assert page.locator(".notice.bad:not(:empty)").count() == 0, page.locator(".notice.bad").all_inner_texts()
    # keyboard: the skip link is the first stop, and the focus ring is visible
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.evaluate("document.activeElement.blur()")
    for width in (1280, 800):
        page.set_viewport_size({"width": width, "height": 900})
        # nothing wider than the window: no sideways scrolling of the page itself
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # every table shows as many headers as cells in its rows (columns hidden when narrow: both)
        assert page.evaluate(SHOWN_COLUMNS) == [], width
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            screenshot(page, f"{name}-{tab.lang}-{scheme}-{width}")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert tab.take_errors() == []


def test_language_and_theme_switches_are_remembered(tab_en: Tab, admin: Admin) -> None:
    page = open_admin(tab_en, admin, "logs")
    with page.expect_navigation():
        page.click("#lang-switch")
    page.wait_for_selector("body[data-loaded]")
    assert page.locator("h1").inner_text() == DICTIONARIES["zh"]["logs.title"]
    assert page.evaluate("localStorage.getItem('mimo2codex.lang')") == "zh"
    with page.expect_navigation():
        page.click("#lang-switch")
    page.wait_for_selector("body[data-loaded]")
    assert page.locator("h1").inner_text() == DICTIONARIES["en"]["logs.title"]
    # auto -> light -> dark, remembered across a reload and applied before the first paint
    page.click("#theme-switch")
    page.click("#theme-switch")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    page.wait_for_selector("body[data-loaded]")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(246, 247, 249)"  # not the light background
    page.click("#theme-switch")
    assert page.evaluate("localStorage.getItem('mimo2codex.theme')") is None
    assert tab_en.take_errors() == []


def test_a_gateway_with_an_admin_token_asks_for_it_once(browser: Any, admin: Admin, tmp_path: Path) -> None:
    env = {
        "GENERIC_BASE_URL": admin.upstream.url,
        "GENERIC_DEFAULT_MODEL": "fake-model",
        "GENERIC_API_KEY": admin.upstream.api_key,
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
        "MIMO2CODEX_ADMIN_TOKEN": "let-me-in-please",
    }
    with LiveGateway(load_settings(env), env=env) as gateway:
        context = browser.new_context()
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{gateway.port}/admin/settings")
            page.wait_for_selector("dialog #admin-token")
            page.fill("#admin-token", "wrong")
            page.click("dialog button.primary")
            page.wait_for_selector("dialog #admin-token")  # refused: asked again
            page.fill("#admin-token", "let-me-in-please")
            page.click("dialog button.primary")
            page.wait_for_selector("body[data-loaded='1']")
            assert page.locator("#toggle-thinking").count() == 1
            assert page.locator(".notice.bad:not(:empty)").count() == 0
            # kept for the session: the next page asks nothing
            page.goto(f"http://127.0.0.1:{gateway.port}/admin/logs")
            page.wait_for_selector("body[data-loaded='1']")
            assert page.locator("dialog").count() == 0
            assert all("401" in e for e in errors), errors  # only the refusals that made it ask
        finally:
            context.close()
