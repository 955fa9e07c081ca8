"""docs/admin.md and docs/admin.zh.md list every admin route, generated from the route table.

Regenerate with ``UPDATE_DOCS=1 pytest tests/admin/test_admin_docs.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mimo2codex.admin.api import ROUTES
from mimo2codex.admin.openapi import routes_table
from mimo2codex.admin.security import CONTENT_SECURITY_POLICY

DOCS = [Path(__file__).resolve().parents[2] / "docs" / name for name in ("admin.md", "admin.zh.md")]
_BLOCK = re.compile(r"(<!-- admin-routes:start -->\n)(?P<body>.*?)(<!-- admin-routes:end -->)", re.DOTALL)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_route_table_is_in_sync(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _BLOCK.search(text), f"{path.name} lost its admin-routes markers"
    expected = _BLOCK.sub(lambda m: m.group(1) + routes_table(ROUTES) + m.group(3), text)
    if os.environ.get("UPDATE_DOCS") == "1" and expected != text:
        path.write_text(expected, encoding="utf-8")
        return
    assert text == expected, f"{path.name} drifted: run UPDATE_DOCS=1 pytest tests/admin/test_admin_docs.py"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_the_security_model_is_documented(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for phrase in (
        "host_not_allowed",
        "json_required",
        "cross_origin",
        "admin_closed",
        "key_refused",
        "MIMO2CODEX_ADMIN_TOKEN",
    ):
        assert phrase in text
    assert CONTENT_SECURITY_POLICY in text
