"""Fixtures of the end-to-end ring: the real Codex CLI binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.codex_cli import CodexNotFound, find_codex


@pytest.fixture(scope="module")
def codex_bin() -> Path:
    """The Codex CLI 0.169.0 binary; a clear failure (never a skip) with the install hint when missing."""
    try:
        return find_codex()
    except CodexNotFound as exc:
        pytest.fail(str(exc), pytrace=False)
