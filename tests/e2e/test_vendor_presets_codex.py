"""The real Codex CLI through a preset-configured gateway to the strict fake in that vendor's mode.

The two presets whose reasoning rules a wrong translation breaks: Kimi (reasoning_content required on
every tool-call message while thinking) and MiniMax (thinking kept inside the replayed text as
``<think>``). A providers.json entry names only the preset and the fake's URL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimo2codex.providers.presets import PRESETS
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.codex_cli import CatalogModel, CodexCLI, CodexConfig
from tests.fakes.strict_upstream import Reply, ToolCall, VendorRules

pytestmark = [pytest.mark.codex, pytest.mark.live]

RUN_TIMEOUT = 30.0
MODELS = {"kimi": "kimi-k2.6", "minimax": "MiniMax-M2.7"}


@pytest.mark.parametrize("vendor", list(MODELS))
def test_codex_tool_session_on_a_preset(
    vendor: str, tmp_path: Path, codex_bin: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    model = MODELS[vendor]
    script = [
        Reply.tools(ToolCall("exec_command", {"cmd": "echo first > a.txt"}), reasoning="Write a.txt first."),
        Reply.tools(ToolCall("exec_command", {"cmd": "cat a.txt"}), reasoning="Check what was written."),
        Reply.text("a.txt says first.", reasoning="The file holds the word."),
    ]
    upstream = start_upstream(script, rules=getattr(VendorRules, vendor)())
    entry = {"id": vendor, "preset": vendor, "baseUrl": upstream.url}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "providers.json").write_text(json.dumps({"providers": [entry]}), encoding="utf-8")
    settings = load_settings(
        {
            "MIMO2CODEX_DATA_DIR": str(tmp_path / "data"),
            PRESETS[vendor].env_key: upstream.api_key,
            "MIMO2CODEX_DEFAULT_PROVIDER": vendor,
            "MIMO2CODEX_MAX_RETRIES": "0",
        }
    )
    gateway = start_gateway(settings)
    codex = CodexCLI(
        tmp_path / "home",
        tmp_path / "work",
        CodexConfig(base_url=gateway.url, model=model, catalog=CatalogModel(slug=model)),
        binary=codex_bin,
    )

    result = codex.run("write a.txt and read it back", timeout=RUN_TIMEOUT)

    assert result.ok, result.explain()
    assert upstream.violations == []
    assert len(upstream.chat_requests) == 3
    assert result.final_message == "a.txt says first."
    assert (codex.workdir / "a.txt").read_text() == "first\n"
    assert "Write a.txt first." in result.reasoning
    last = [m for m in upstream.bodies[-1]["messages"] if m["role"] == "assistant"]
    if vendor == "kimi":
        assert [m["reasoning_content"] for m in last] == ["Write a.txt first.", "Check what was written."]
        assert upstream.bodies[-1]["thinking"] == {"type": "enabled"}
    else:
        assert [m["content"].split("</think>")[0] for m in last] == [
            "<think>\nWrite a.txt first.\n",
            "<think>\nCheck what was written.\n",
        ]
        assert all("reasoning_content" not in m for m in last)
