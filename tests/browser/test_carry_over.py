"""The Providers page of a gateway set up with GENERIC_* variables: adding the first provider writes
providers.json, which carries the GENERIC_* provider over; the page says so and routing stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mimo2codex.settings import load_settings
from tests.browser.conftest import SECOND_KEY_ENV, Admin, Tab, open_admin, screenshot
from tests.browser.test_flows import output_text, respond, saved_ok
from tests.live import LiveGateway

pytestmark = pytest.mark.live


@pytest.fixture
def generic_admin(admin: Admin, tmp_path: Path) -> Iterator[Admin]:
    """A second gateway, configured only by GENERIC_* (its vendor: the package's main fake), no providers file."""
    data_dir, codex_home = tmp_path / "data", tmp_path / "codex"
    data_dir.mkdir()
    codex_home.mkdir()
    env = {
        "GENERIC_BASE_URL": admin.upstream.url,
        "GENERIC_API_KEY": admin.upstream.api_key,
        "GENERIC_DEFAULT_MODEL": "fake-model",
        "MIMO2CODEX_MAX_RETRIES": "0",
        "MIMO2CODEX_DATA_DIR": str(data_dir),
        "CODEX_HOME": str(codex_home),
        SECOND_KEY_ENV: admin.second.api_key,
    }
    with LiveGateway(load_settings(env), env=env) as gateway:
        yield Admin(gateway, admin.upstream, admin.second, data_dir, codex_home)


def test_the_first_provider_added_keeps_the_generic_env_one(tab: Tab, generic_admin: Admin) -> None:
    admin = generic_admin
    page = open_admin(tab, admin, "providers")
    expect(page.locator("#providers-table code", has_text="generic")).to_have_count(1)
    page.fill("#p-id", f"added-{tab.lang}")
    page.fill("#p-base-url", admin.second.url)
    page.fill("#p-env-key", SECOND_KEY_ENV)
    page.fill("#p-default-model", "added-model")
    page.fill("#p-models", "added-model")
    page.click("#provider-form button[type=submit]")
    saved_ok(page, "#provider-result")
    notice = page.locator("#provider-result").inner_text()
    assert "GENERIC_API_KEY" in notice, notice
    assert "default_provider" in notice, notice  # it stays the default, after a restart too (stored)
    assert "MIMO2CODEX_DEFAULT_PROVIDER" not in notice, notice  # nothing left for the user to set
    screenshot(page, f"providers-carried-{tab.lang}")
    expect(page.locator("#providers-table code", has_text=f"added-{tab.lang}")).to_have_count(1)
    expect(page.locator("#providers-table code", has_text="generic")).to_have_count(1)
    saved = json.loads((admin.data_dir / "providers.json").read_text(encoding="utf-8"))
    assert [p["id"] for p in saved["providers"]] == ["generic", f"added-{tab.lang}"]
    assert admin.upstream.api_key not in (admin.data_dir / "providers.json").read_text(encoding="utf-8")
    # routing as before the save: any model still goes to the GENERIC_* vendor, the new one to its own
    assert output_text(respond(admin, "whatever-model", "still there?")) == "hello from the fake"
    assert output_text(respond(admin, "added-model", "and you?")) == "hello from the second vendor"
    assert tab.take_errors() == []
