"""The Providers page at 800 px, in English and Chinese (wider labels), light and dark: the providers
table fits its panel; nothing scrolls sideways (screenshots in test-artifacts/screenshots/)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Admin, Tab, open_admin, screenshot

pytestmark = pytest.mark.live

#: how far each element of the providers panel reaches past its own box, in pixels (0: it fits)
OVERFLOW = """() => {
  const panel = document.querySelector('#providers-table').closest('.panel');
  const wrap = panel.querySelector('.table-wrap');
  const cells = [...panel.querySelectorAll('th, td')].map((cell) => cell.getBoundingClientRect().right);
  return {
    panel: panel.scrollWidth - panel.clientWidth,
    wrap: wrap.scrollWidth - wrap.clientWidth,
    cells: Math.max(0, Math.ceil(Math.max(...cells) - wrap.getBoundingClientRect().right)),
  };
}"""


@pytest.mark.parametrize("width", [800, 1280])
def test_the_providers_table_fits_its_panel(tab: Tab, admin: Admin, width: int) -> None:
    page = open_admin(tab, admin, "providers")
    page.set_viewport_size({"width": width, "height": 900})
    try:
        rows = page.locator("#providers-table tbody tr").count()
        assert rows >= 3  # the built-in providers and the fake one: a realistic table
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            screenshot(page, f"providers-table-{tab.lang}-{scheme}-{width}")  # first: a failure shows
            assert page.evaluate(OVERFLOW) == {"panel": 0, "wrap": 0, "cells": 0}, (tab.lang, scheme)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        # every provider keeps what matters visible: its id, key state and the test button
        for selector in ("td code", "td .badge", "button[data-probe]"):
            assert page.locator(f"#providers-table tbody {selector}").first.is_visible(), selector
    finally:
        page.emulate_media(color_scheme="light")
        page.set_viewport_size({"width": 1280, "height": 900})
    assert tab.take_errors() == []
