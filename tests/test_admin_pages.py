"""The admin pages without a browser: dictionaries, the Content-Security-Policy rules the markup and the
scripts must follow, and what the page routes serve. The real-browser tests are in tests/browser/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from mimo2codex.admin import pages
from mimo2codex.admin.pages import PAGES, page_routes, render_page

ADMIN = Path(pages.__file__).parent
STATIC = ADMIN / "static"
TEMPLATES = ADMIN / "templates"
SCRIPTS = sorted((STATIC / "js").rglob("*.js"))
LANGUAGES = ("en", "zh")
#: keys built at run time from a prefix (``t(`nav.${page}`)``): the suffixes each prefix takes
DYNAMIC_KEYS = {
    "nav.": list(PAGES),
    "theme.": ["auto", "light", "dark"],
    "setup.tab_": ["config_toml", "auth_json", "config_toml_env_key", "cc_switch", "catalog"],
    "storage.": ["log_bodies", "log_body_max", "log_retention_days", "log_max_mb"],
}


def dictionary(lang: str) -> dict[str, str]:
    data = json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def used_keys() -> set[str]:
    """Every key the markup names (data-i18n*) and the scripts pass to t() as a literal."""
    keys: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        keys |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', template.read_text(encoding="utf-8")))
    for script in SCRIPTS:
        keys |= set(re.findall(r'\bt\("([^"]+)"', script.read_text(encoding="utf-8")))
    for prefix, suffixes in DYNAMIC_KEYS.items():
        keys |= {prefix + suffix for suffix in suffixes}
    return keys


def test_both_dictionaries_have_the_same_keys() -> None:
    en, zh = dictionary("en"), dictionary("zh")
    assert sorted(set(en) ^ set(zh)) == []


def test_every_used_key_is_in_the_dictionaries() -> None:
    missing = sorted(used_keys() - set(dictionary("en")))
    assert missing == []


def test_every_toggle_has_a_label_and_a_hint() -> None:
    """A toggle added to the API must not show up as its raw field name on the Settings page."""
    from mimo2codex.admin.toggles import TOGGLES

    for lang in ("en", "zh"):
        words = dictionary(lang)
        for toggle in TOGGLES:
            assert f"toggle.{toggle.name}" in words, (lang, toggle.name)
            assert f"toggle.{toggle.name}_hint" in words, (lang, toggle.name)


def test_placeholders_match_across_languages() -> None:
    en, zh = dictionary("en"), dictionary("zh")
    for key, text in en.items():
        assert sorted(re.findall(r"\{(\w+)\}", text)) == sorted(re.findall(r"\{(\w+)\}", zh[key])), key


def test_chinese_strings_are_translated() -> None:
    # A Chinese entry equal to the English one is allowed only for names and codes (no lower-case words).
    en, zh = dictionary("en"), dictionary("zh")
    untranslated = [k for k, v in zh.items() if v == en[k] and re.search(r"\b[a-z]{3,}\b", v) and "." not in v]
    assert untranslated == []


@pytest.mark.parametrize("page", list(PAGES))
def test_pages_follow_the_content_security_policy(page: str) -> None:
    """No inline script, no inline handler, no style attribute: the CSP would block them."""
    html = render_page(page).decode()
    for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
        attrs, body = match.groups()
        assert "src=" in attrs or 'type="application/json"' in attrs, match.group(0)[:80]
        assert "src=" not in attrs or body.strip() == ""
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert not re.search(r"\sstyle\s*=", html, re.I)
    assert "<style" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "everything comes from /admin/static"


def test_scripts_never_write_markup_or_styles() -> None:
    """Data reaches the DOM as text only (hostile log bodies), and styles through classes only."""
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", text), script.name
        assert not re.search(r"setAttribute\(\s*[\"']style|\.style\.cssText|\beval\(|new Function\(", text), script.name


def test_presets_block_cannot_close_its_script() -> None:
    text = pages.presets_json()
    assert "<" not in text
    assert ">" not in text
    names = {p["name"] for p in json.loads(text)}
    assert {"qwen", "kimi", "glm"} <= names


def test_pages_and_static_files_are_served() -> None:
    with TestClient(Starlette(routes=page_routes()), base_url="http://127.0.0.1") as client:
        for page, path in PAGES.items():
            response = client.get(f"/admin/{path}")
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            assert f'data-page="{page}"' in response.text
        redirect = client.get("/admin", follow_redirects=False)
        assert redirect.status_code == 308
        assert redirect.headers["location"] == "/admin/"
        for script in SCRIPTS:
            relative = script.relative_to(STATIC).as_posix()
            response = client.get(f"/admin/static/{relative}")
            assert response.status_code == 200
            assert "javascript" in response.headers["content-type"]
        for lang in LANGUAGES:
            response = client.get(f"/admin/static/i18n/{lang}.json")
            assert response.json() == dictionary(lang)
        css = client.get("/admin/static/css/admin.css")
        assert css.headers["content-type"].startswith("text/css")
        assert (client.get("/admin/static/../pages.py")).status_code == 404


def test_package_data_ships_templates_and_static_files() -> None:
    # the wheel must carry them: pyproject lists them as package data
    pyproject = (ADMIN.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"mimo2codex\.admin"\s*=\s*\[[^\]]*"templates/\*\.html"', pyproject)
    assert re.search(r'"mimo2codex\.admin"\s*=\s*\[[^\]]*"static/\*\*/\*"', pyproject)


def test_every_package_is_a_regular_one() -> None:
    # a folder of modules without __init__.py is a namespace package: setuptools' find and mypy treat
    # it differently, and its package data (the admin's pages) hangs on a name that is not a package
    root = ADMIN.parent
    folders = {path.parent for path in root.rglob("*.py") if "__pycache__" not in path.parts}
    assert sorted(str(f.relative_to(root)) for f in folders if not (f / "__init__.py").is_file()) == []
    assert (ADMIN / "__init__.py").is_file()
