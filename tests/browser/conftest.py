"""The real-browser ring: Debian's chromium driven by playwright against a live gateway.

One browser and one gateway per session (the suite must stay near a minute); one page per language,
reused by every test. Chromium comes from apt (``/usr/bin/chromium``, scripts/test installs it):
playwright's own browser download cannot work offline. ``MIMO2CODEX_CHROMIUM`` points elsewhere.

Every page records its console errors and uncaught exceptions; :func:`open_admin` fails the test on
any it did not expect.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from mimo2codex.admin.pages import page_routes
from mimo2codex.settings import load_settings
from tests.fakes.strict_upstream import Reply, StrictUpstream, VendorRules
from tests.live import LiveGateway

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")

CHROMIUM = os.environ.get("MIMO2CODEX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
MAIN_KEY_ENV = "FAKE_VENDOR_API_KEY"
#: the key variable of the provider the tests add from the Providers page (its value: the fake's key)
SECOND_KEY_ENV = "SECOND_VENDOR_API_KEY"
LOAD_TIMEOUT_MS = 10_000


@dataclass
class Admin:
    """The live gateway with its admin, the fake vendors behind it, and the files it edits."""

    gateway: LiveGateway
    upstream: StrictUpstream
    second: StrictUpstream
    data_dir: Path
    codex_home: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    @property
    def admin_url(self) -> str:
        return f"{self.origin}/admin/"


@dataclass
class Tab:
    """One reused browser page and what its console said."""

    page: playwright_api.Page
    lang: str
    errors: list[str] = field(default_factory=list)

    def take_errors(self) -> list[str]:
        errors, self.errors[:] = list(self.errors), []
        return errors


@pytest.fixture(scope="package")
def browser() -> Iterator[playwright_api.Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("MIMO2CODEX_SKIP_BROWSER") == "1":
            pytest.skip(f"no chromium at {CHROMIUM} (MIMO2CODEX_SKIP_BROWSER=1)")
        pytest.fail(f"no chromium at {CHROMIUM}: apt-get install chromium fonts-noto-cjk (scripts/test does)")
    with playwright_api.sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="package")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    base = tmp_path_factory.mktemp("admin-browser")
    data_dir, codex_home = base / "data", base / "codex"
    data_dir.mkdir()
    codex_home.mkdir()
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(StrictUpstream(lambda body, n: Reply.text("hello from the fake")).running())
        second = stack.enter_context(
            StrictUpstream(
                lambda body, n: Reply.text("hello from the second vendor"),
                # it also serves a provider made from the Qwen preset (its thinking switch)
                rules=VendorRules(extra_fields=frozenset({"enable_thinking"})),
                api_key="sk-second-vendor",
            ).running()
        )
        # the main vendor is declared in providers.json, as a user of the Providers page has it (a
        # providers file replaces the GENERIC_* variables, so the pages edit what the gateway runs on)
        entry = {"id": "fake", "displayName": "Fake vendor", "baseUrl": upstream.url, "envKey": MAIN_KEY_ENV}
        (data_dir / "providers.json").write_text(json.dumps({"providers": [{**entry, "defaultModel": "fake-model"}]}))
        env = {
            MAIN_KEY_ENV: upstream.api_key,
            "MIMO2CODEX_DEFAULT_PROVIDER": "fake",
            "MIMO2CODEX_MAX_RETRIES": "0",
            "MIMO2CODEX_DATA_DIR": str(data_dir),
            "MIMO2CODEX_LOG_BODIES": "full",
            "CODEX_HOME": str(codex_home),
            SECOND_KEY_ENV: second.api_key,
        }
        gateway = stack.enter_context(LiveGateway(load_settings(env), env=env))
        yield Admin(gateway, upstream, second, data_dir, codex_home)


@pytest.fixture(scope="package")
def pages_only() -> Iterator[str]:
    """Only the pages and static files (no API, no gateway) on a loopback port: for the pure JS modules."""
    # (a bare document makes Chromium ask for /favicon.ico: answered, so its 404 is no console error)
    app = Starlette(routes=[*page_routes(), Route("/favicon.ico", lambda request: Response(status_code=204))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="pages-only", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the pages server did not start"
        assert time.monotonic() < deadline, "the pages server did not start in time"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _new_tab(browser: playwright_api.Browser, lang: str) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN" if lang == "zh" else "en-US")
    # the language switch is remembered in localStorage: chosen before the first page script runs
    context.add_init_script(
        f"try {{ localStorage.getItem('mimo2codex.lang') || localStorage.setItem('mimo2codex.lang', '{lang}') }} catch (e) {{}}"
    )
    page = context.new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    tab = Tab(page, lang)
    page.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="package")
def tab_en(browser: playwright_api.Browser) -> Iterator[Tab]:
    yield from _new_tab(browser, "en")


@pytest.fixture(scope="package")
def tab_zh(browser: playwright_api.Browser) -> Iterator[Tab]:
    yield from _new_tab(browser, "zh")


@pytest.fixture(params=["en", "zh"])
def tab(request: pytest.FixtureRequest) -> Tab:
    """The page of each language in turn (a test using it runs once per language)."""
    found: Tab = request.getfixturevalue(f"tab_{request.param}")
    found.take_errors()
    return found


def open_admin(tab: Tab, admin: Admin, path: str = "") -> playwright_api.Page:
    """Load ``/admin/<path>`` and wait until its module has rendered (``body[data-loaded]``)."""
    page = tab.page
    page.goto(admin.admin_url + path)
    page.wait_for_selector("body[data-loaded]", state="attached")
    assert page.get_attribute("body", "data-loaded") == "1", tab.take_errors()
    return page


def screenshot(page: playwright_api.Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def clean_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
