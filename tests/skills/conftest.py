"""Fixtures for the helper commands: a clean environment and an in-process CLI runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mimo2codex.cli import main

#: variables the commands read; a developer's own keys must not leak into a test
_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "REPLICATE_API_TOKEN",
    "MIMO2CODEX_REPLICATE_URL",
    "MIMO2CODEX_SD_WEBUI_URL",
    "MIMO2CODEX_POLLINATIONS_URL",
    "POLLINATIONS_TOKEN",
    "MIMO2CODEX_URL",
    "CODEX_HOME",
    "MIMO_API_KEY",
    "MIMO_BASE_URL",
    "DS_API_KEY",
    "DEEPSEEK_API_KEY",
    "GENERIC_BASE_URL",
    "GENERIC_API_KEY",
    "MIMO2CODEX_DEFAULT_PROVIDER",
    "MIMO2CODEX_WEB_SEARCH",
    "MIMO2CODEX_AUTH_TOKENS",
    "MIMO2CODEX_VISION_MODEL",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def explain(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


Cli = Callable[..., CliResult]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli("image", "--prompt", ...)``: runs ``mimo2codex`` in this process; argparse errors too."""

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: bad usage
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
