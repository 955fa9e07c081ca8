"""Issue 10, acceptance 2: the real Codex CLI 0.169.0 attaches a screenshot in a session on a text-only
DeepSeek model, and the gateway's vision bridge lets that model read it.

Codex gets the gateway's own catalog (``GET /v1/codex/models``), which offers image input for the
text-only model because a vision model can read images for it: with ``input_modalities: ["text"]``
Codex would strip the screenshot before sending it. Behind the gateway: a strict DeepSeek V4 fake
(any image part is a 404) and a MiMo vision fake that reads the text out of the image's pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.codex_cli import CodexCLI, CodexConfig
from tests.fakes.strict_upstream import Reply, StrictUpstream, ToolCall, VendorRules
from tests.fakes.vision import screenshot_png, vision_script

pytestmark = [pytest.mark.codex, pytest.mark.live]

TEXT_MODEL = "deepseek-v4-pro"
KNOWN_TEXT = "ERROR 0x2A: license server unreachable"
RUN_TIMEOUT = 60.0


class Session:
    def __init__(self, tmp_path: Path, codex_bin: Path, start_upstream: StartUpstream, start_gateway: StartGateway):
        self.seen: list[str] = []
        self.text = start_upstream(rules=VendorRules.deepseek_v4(models=(TEXT_MODEL,)), api_key="sk-ds-fake")
        self.vision = start_upstream(
            vision_script(self.seen), rules=VendorRules.mimo_vision(models=("mimo-v2.5",)), api_key="sk-mimo-fake"
        )
        self.data_dir = tmp_path / "data"
        settings = load_settings(
            {
                "DS_API_KEY": "sk-ds-fake",
                "DEEPSEEK_BASE_URL": self.text.url,
                "MIMO_API_KEY": "sk-mimo-fake",
                "MIMO_BASE_URL": self.vision.url,
                "MIMO2CODEX_DEFAULT_PROVIDER": "ds",
                "MIMO2CODEX_VISION_MODEL": "mimo/mimo-v2.5",
                "MIMO2CODEX_DATA_DIR": str(self.data_dir),
                "MIMO2CODEX_MAX_RETRIES": "0",
            }
        )
        self.gateway = start_gateway(settings)
        # The catalog Codex is told to use is the one the gateway serves.
        catalog = httpx.get(self.gateway.url.removesuffix("/v1") + "/v1/codex/models", timeout=5).json()
        catalog_path = tmp_path / "gateway-catalog.json"
        catalog_path.write_text(json.dumps(catalog), encoding="utf-8")
        self.entry = next(m for m in catalog["models"] if m["slug"] == TEXT_MODEL)
        self.codex = CodexCLI(
            tmp_path / "home",
            tmp_path / "work",
            CodexConfig(
                base_url=self.gateway.url,
                model=TEXT_MODEL,
                catalog=False,
                top_level={"model_catalog_json": str(catalog_path)},
            ),
            binary=codex_bin,
        )

    def clean(self, upstream: StrictUpstream) -> None:
        assert upstream.violations == []


@pytest.fixture
def session(tmp_path: Path, codex_bin: Path, start_upstream: StartUpstream, start_gateway: StartGateway) -> Session:
    return Session(tmp_path, codex_bin, start_upstream, start_gateway)


def _user_text(body: dict[str, object]) -> str:
    """The user messages' text; every message's content must be a plain string (no image part)."""
    messages = body["messages"]
    assert isinstance(messages, list)
    assert all(isinstance(m.get("content", ""), str) for m in messages), "a content array reached the text model"
    texts = [m["content"] for m in messages if m["role"] == "user"]
    assert all(isinstance(t, str) for t in texts), "an image part reached the text-only model"
    return "\n".join(texts)


def test_codex_attaches_a_screenshot_and_the_text_only_model_reads_it(session: Session) -> None:
    assert session.entry["input_modalities"] == ["text", "image"]
    shot = session.codex.workdir / "screenshot.png"
    shot.write_bytes(screenshot_png(KNOWN_TEXT, height=12))
    session.text.set_script([Reply.text("The screenshot shows a license server error."), Reply.text("Still 0x2A.")])

    first = session.codex.run("what does the screenshot say?", images=[shot], timeout=RUN_TIMEOUT)

    assert first.ok, first.explain()
    assert first.final_message == "The screenshot shows a license server error."
    # The vision model received the image and read it ...
    assert session.seen == [KNOWN_TEXT]
    (vision,) = session.vision.chat_requests
    parts = vision.body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    # ... and the text-only model received its words, and no image.
    (request,) = session.text.chat_requests
    assert b"data:image" not in request.raw
    user = _user_text(request.body)
    assert KNOWN_TEXT in user
    assert "— read by mimo-v2.5 on mimo;" in user
    assert "[end of image 1]" in user
    assert "what does the screenshot say?" in user
    session.clean(session.text)
    session.clean(session.vision)

    # The next turn of the session: the screenshot comes back in the history and is attached again.
    second = session.codex.run("and now?", images=[shot], resume="--last", timeout=RUN_TIMEOUT)

    assert second.ok, second.explain()
    assert second.final_message == "Still 0x2A."
    assert len(session.vision.chat_requests) == 1, "the identical image was read again instead of cached"
    later = session.text.chat_requests[1]
    assert b"data:image" not in later.raw
    assert _user_text(later.body).count(KNOWN_TEXT) == 2
    records = session.gateway.wait_for_records(2)
    assert [n["cached"] for n in records[0].notes["vision"]] == [False]
    assert [n["cached"] for n in records[1].notes["vision"]] == [True, True]
    assert {n["model"] for n in records[1].notes["vision"]} == {"mimo/mimo-v2.5"}
    session.clean(session.text)
    session.clean(session.vision)


def test_an_image_codex_views_with_a_tool_is_read_for_the_text_only_model(session: Session) -> None:
    shot = session.codex.workdir / "chart.png"
    shot.write_bytes(screenshot_png("Q3 revenue: 1.2M", height=12))
    session.text.set_script(
        [
            Reply.tools(ToolCall("view_image", {"path": str(shot)}), reasoning="Look at the chart first."),
            Reply.text("Revenue was 1.2M in Q3.", reasoning="The chart says so."),
        ]
    )

    result = session.codex.run("what was Q3 revenue? see chart.png", timeout=RUN_TIMEOUT)

    assert result.ok, result.explain()
    assert result.final_message == "Revenue was 1.2M in Q3."
    assert session.seen == ["Q3 revenue: 1.2M"]
    follow_up = session.text.chat_requests[1]
    assert b"data:image" not in follow_up.raw
    _user_text(follow_up.body)
    (tool,) = [m for m in follow_up.body["messages"] if m["role"] == "tool"]
    assert "Q3 revenue: 1.2M" in tool["content"]
    assert tool["content"].startswith("[image 1 (png, 16x12, sha256 ")
    session.clean(session.text)
    session.clean(session.vision)
