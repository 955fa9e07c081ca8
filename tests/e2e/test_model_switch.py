"""Issue 11, acceptance 1: a session begun on a non-thinking model continues on a thinking one.

The real Codex CLI runs a tool-using session on ``deepseek-chat`` (DeepSeek serves it without thinking:
its answers carry no reasoning), then ``codex exec resume --last -m deepseek-v4-pro`` continues the
same session through several tool turns. DeepSeek V4 in thinking mode answers 400 "The reasoning_content
in the thinking mode must be passed back to the API" unless every assistant message of every earlier
turn with tool calls -- the closing answer included -- carries ``reasoning_content``. The strict fake
(DeepSeek V4 mode) enforces exactly that; the gateway must backfill the turns ``deepseek-chat`` wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.codex_cli import CatalogModel, CodexCLI, CodexConfig
from tests.fakes.strict_upstream import Reply, ToolCall, VendorRules

pytestmark = [pytest.mark.codex, pytest.mark.live]

RUN_TIMEOUT = 30.0
CHAT, PRO = "deepseek-chat", "deepseek-v4-pro"


def _assistants(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "assistant"]


def test_resume_on_a_thinking_model_after_a_non_thinking_session(
    tmp_path: Path, codex_bin: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    first_session = [
        Reply.tools(ToolCall("exec_command", {"cmd": "echo one > one.txt"})),
        Reply.tools(ToolCall("exec_command", {"cmd": "echo two > two.txt"}), content="One more file."),
        Reply.text("Wrote one.txt and two.txt."),
    ]
    resumed = [
        Reply.tools(ToolCall("exec_command", {"cmd": f"cat {name}.txt >> all.txt"}), reasoning=f"Append {name}.")
        for name in ("one", "two")
    ]
    resumed.append(
        Reply.tools(ToolCall("exec_command", {"cmd": "wc -l all.txt"}), reasoning="Count the lines to check.")
    )
    resumed.append(Reply.text("all.txt has both lines.", reasoning="Both lines are there; report."))
    upstream = start_upstream([*first_session, *resumed], rules=VendorRules.deepseek_v4(models=(CHAT, PRO)))
    settings = load_settings(
        {
            "DS_API_KEY": upstream.api_key,
            "DEEPSEEK_BASE_URL": upstream.url,
            "MIMO2CODEX_DEFAULT_PROVIDER": "deepseek",
            "MIMO2CODEX_MAX_RETRIES": "0",
        }
    )
    gateway = start_gateway(settings)
    # Codex's catalog knows both models (as ~/.codex would after `mimo2codex codex-config`).
    codex = CodexCLI(
        tmp_path / "home",
        tmp_path / "work",
        CodexConfig(base_url=gateway.url, model=CHAT, catalog=CatalogModel(slug=CHAT)),
        binary=codex_bin,
    )
    catalog = codex.catalog_path
    entries = [CatalogModel(slug=CHAT).to_json(), CatalogModel(slug=PRO, reasoning_levels=("high",)).to_json()]
    catalog.write_text(json.dumps({"models": entries}), encoding="utf-8")

    first = codex.run("write one.txt and two.txt", timeout=RUN_TIMEOUT)

    assert first.ok, first.explain()
    assert first.final_message == "Wrote one.txt and two.txt."
    assert [b["model"] for b in upstream.bodies] == [CHAT] * 3
    assert not any("reasoning_content" in m for b in upstream.bodies for m in b["messages"])

    second = codex.run("collect them into all.txt", resume="--last", resume_args=["-m", PRO], timeout=RUN_TIMEOUT)

    assert second.ok, second.explain()
    assert upstream.violations == []
    assert len(upstream.chat_requests) == 3 + 4
    assert all(e.outcome == "completed" for e in upstream.chat_requests)
    assert [b["model"] for b in upstream.bodies[3:]] == [PRO] * 4
    assert second.final_message == "all.txt has both lines."
    assert (codex.workdir / "all.txt").read_text() == "one\ntwo\n"
    # The last request: the deepseek-chat turn is backfilled on all three of its assistant messages
    # (two tool-calling ones and the closing answer); the thinking turn replays its own reasoning.
    assistants = _assistants(upstream.bodies[-1])
    placeholder = UpstreamProfile(model=PRO).reasoning_backfill
    assert [m["reasoning_content"] for m in assistants[:3]] == [placeholder] * 3
    assert assistants[2]["content"] == "Wrote one.txt and two.txt."
    assert "tool_calls" not in assistants[2]
    assert [m["reasoning_content"] for m in assistants[3:]] == [
        "Append one.",
        "Append two.",
        "Count the lines to check.",
    ]
