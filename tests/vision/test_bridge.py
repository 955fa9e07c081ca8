"""The vision bridge end to end in process: the app (TestClient) in front of two strict fake vendors.

A DeepSeek-like text-only vendor (any image part is a 404 there) and a MiMo vision model that reads the
text out of the screenshot's pixels (``tests/fakes/vision.py``) and rejects what MiMo rejects. Each test
checks what each vendor received, what the request log recorded, and that no vendor rule was broken.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mimo2codex.catalog import CATALOG_PATH
from mimo2codex.errors import ConfigError
from mimo2codex.gateway import Gateway
from mimo2codex.request_log import RequestRecord
from mimo2codex.server import create_app
from mimo2codex.settings import load_settings
from tests.conftest import StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream, VendorRules
from tests.fakes.vision import BAD_IMAGE, screenshot_png, vision_script

pytestmark = pytest.mark.live

TEXT_MODEL = "deepseek-v4-pro"
VISION_MODEL = "mimo-v2.5"


def data_url(png: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(png).decode()


def user_image(*urls: str, text: str = "what does the screenshot say?") -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for n, url in enumerate(urls, 1):
        content += [
            {"type": "input_text", "text": f'<image name=[Image #{n}] path="/w/shot{n}.png">'},
            {"type": "input_image", "image_url": url, "detail": "high"},
            {"type": "input_text", "text": "</image>"},
        ]
    content.append({"type": "input_text", "text": text})
    return {"type": "message", "role": "user", "content": content}


@dataclass
class Stack:
    client: TestClient
    text: StrictUpstream
    vision: StrictUpstream
    records: list[RequestRecord]
    data_dir: Path
    seen: list[str]

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.client.app.state.gateway  # type: ignore[attr-defined]
        return gateway

    def ask(self, *items: dict[str, Any], model: str = TEXT_MODEL, stream: bool = False) -> dict[str, Any]:
        response = self.client.post("/v1/responses", json={"model": model, "input": list(items), "stream": stream})
        assert response.status_code == 200, response.text
        return response.json() if not stream else {"sse": response.text}

    def text_bodies(self) -> list[dict[str, Any]]:
        return [b for b in self.text.bodies if b["model"] != VISION_MODEL]

    def vision_requests(self) -> list[Any]:
        return [x for x in self.vision.chat_requests if x.body["model"] == VISION_MODEL]

    def clean(self) -> None:
        assert self.text.violations == []
        assert self.vision.violations == []
        for exchange in self.text.chat_requests:
            if exchange.body["model"] != VISION_MODEL:
                assert b"image_url" not in exchange.raw, "an image part reached the text-only model"


Open = Callable[..., Stack]


@pytest.fixture
def open_stack(tmp_path: Path, start_upstream: StartUpstream) -> Iterator[Open]:
    clients: list[TestClient] = []

    def open_(*, text_script: Any = None, vision_rules: VendorRules | None = None, **env: str) -> Stack:
        seen: list[str] = []
        text = start_upstream(
            text_script or (lambda body, n: Reply.text(f"answer {n}")),
            rules=VendorRules.deepseek_v4(models=(TEXT_MODEL,)),
            api_key="sk-deepseek-fake",
        )
        vision = start_upstream(
            vision_script(seen),
            rules=vision_rules or VendorRules.mimo_vision(models=(VISION_MODEL, "mimo-v2.5-pro")),
            api_key="sk-mimo-fake",
        )
        values = {
            "DS_API_KEY": "sk-deepseek-fake",
            "DEEPSEEK_BASE_URL": text.url,
            "MIMO_API_KEY": "sk-mimo-fake",
            "MIMO_BASE_URL": vision.url,
            "MIMO2CODEX_DEFAULT_PROVIDER": "ds",
            "MIMO2CODEX_DATA_DIR": str(tmp_path / "data"),
            "MIMO2CODEX_MAX_RETRIES": "0",
            **env,
        }
        records: list[RequestRecord] = []
        app = create_app(load_settings(values), record_hooks=[records.append])
        client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        return Stack(client, text, vision, records, tmp_path / "data", seen)

    yield open_
    for client in clients:
        client.__exit__(None, None, None)


SHOT = screenshot_png("Traceback: KeyError 'user_id' at app.py:42")


def test_a_screenshot_is_read_by_the_vision_model_and_reaches_the_text_model_as_text(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5")

    answer = stack.ask(user_image(data_url(SHOT)))

    assert answer["output"][-1]["content"][0]["text"] == "answer 0"
    stack.clean()
    (vision,) = stack.vision_requests()
    assert vision.headers["authorization"] == "Bearer sk-mimo-fake"  # the vision provider's own key
    assert stack.seen == ["Traceback: KeyError 'user_id' at app.py:42"]
    (body,) = stack.text_bodies()
    user = body["messages"][-1]["content"]
    sha = hashlib.sha256(SHOT).hexdigest()
    assert isinstance(user, str)
    assert f"[image 1 (png, 16x6, sha256 {sha[:12]}) — read by mimo-v2.5 on mimo;" in user
    assert "Traceback: KeyError 'user_id' at app.py:42" in user
    assert "[end of image 1]" in user
    assert user.index("[end of image 1]") < user.index("what does the screenshot say?")
    (record,) = stack.records
    (note,) = record.notes["vision"]
    assert note["sha256"] == sha[:12]
    assert note["bytes"] == len(SHOT)
    assert note["model"] == "mimo/mimo-v2.5"
    assert note["cached"] is False
    assert note["ms"] >= 0
    assert "error" not in note


def test_the_second_identical_image_is_served_from_the_cache(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5")
    turn = user_image(data_url(SHOT))

    stack.ask(turn)
    # The next turn replays the same screenshot in the history, and the user pastes it again.
    stack.ask(turn, {"role": "assistant", "content": "answer 0"}, user_image(data_url(SHOT), text="again"))

    stack.clean()
    assert len(stack.vision_requests()) == 1
    first, second = stack.text_bodies()
    # The very same block both times: the text model's prompt cache keeps hitting.
    assert second["messages"][0]["content"] == first["messages"][0]["content"]
    assert [n["cached"] for n in stack.records[1].notes["vision"]] == [True, True]
    # ... and after a restart, from the disk cache.
    stack.gateway.vision.cache._memory.clear()
    stack.ask(turn)
    assert len(stack.vision_requests()) == 1
    assert [n["cached"] for n in stack.records[2].notes["vision"]] == [True]


def test_an_image_returned_by_a_tool_is_read_too(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5")
    shot = screenshot_png("Build failed: 3 errors")

    stack.ask(
        {"role": "user", "content": "look at shot.png"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "open it"}]},
        {"type": "function_call", "call_id": "c1", "name": "view_image", "arguments": '{"path":"shot.png"}'},
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [{"type": "input_image", "image_url": data_url(shot)}],
        },
    )

    stack.clean()
    (body,) = stack.text_bodies()
    tool = body["messages"][-1]
    assert tool["role"] == "tool"
    assert tool["tool_call_id"] == "c1"
    assert "Build failed: 3 errors" in tool["content"]
    assert tool["content"].startswith("[image 1 (png,")
    assert stack.records[0].notes["vision"][0]["tool_output"] is True


def test_several_images_are_read_concurrently_within_the_bound(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5")
    slow = vision_script(stack.seen)
    stack.vision.set_script(lambda body, n: slow(body, n).but(delay=0.3))
    stack.gateway.vision.concurrency = 2
    shots = [screenshot_png(f"screen number {n}") for n in range(4)]

    stack.ask(user_image(*(data_url(s) for s in shots), data_url(shots[0])))

    stack.clean()
    requests = stack.vision_requests()
    assert len(requests) == 4  # the repeated image is read once
    starts = sorted(x.received_at for x in requests)
    assert starts[1] - starts[0] < 0.25, "the first two reads did not overlap"
    for start in starts:
        overlapping = [x for x in requests if x.received_at <= start < (x.finished_at or 0)]
        assert len(overlapping) <= 2
    user = stack.text_bodies()[0]["messages"][-1]["content"]
    for n in range(4):
        assert f"screen number {n}" in user
    positions = [user.index(f"[end of image {n}]") for n in range(1, 6)]
    assert positions == sorted(positions)
    assert user.count("screen number 0") == 2


def test_a_vision_failure_never_fails_the_request(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5")
    # A PNG signature with a broken body: MiMo cannot decode it and answers 400.
    broken = SHOT[:40] + b"\x00" * 8 + SHOT[48:]

    answer = stack.ask(user_image(data_url(broken)))

    assert answer["status"] == "completed"
    assert len(stack.vision_requests()) == 1
    assert stack.text.violations == []
    user = stack.text_bodies()[0]["messages"][-1]["content"]
    sha = hashlib.sha256(broken).hexdigest()
    saved = stack.data_dir / "images" / f"{sha}.png"
    assert "— not shown: the vision model mimo-v2.5 on mimo could not read it: " in user
    assert BAD_IMAGE in user
    assert f"Saved to {saved}" in user
    assert f"To read it, run: mimo2codex ocr {saved}" in user
    assert saved.read_bytes() == broken
    (note,) = stack.records[0].notes["vision"]
    assert BAD_IMAGE in note["error"]
    assert note["saved"] == str(saved)
    # A failure is not cached: the next request asks again.
    stack.ask(user_image(data_url(broken)))
    assert len(stack.vision_requests()) == 2


def test_a_vision_model_that_does_not_answer_in_time_becomes_a_placeholder(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5")
    stack.vision.set_script([Reply.text("too late", delay=2.0)])
    stack.gateway.vision.timeout = 0.3

    stack.ask(user_image(data_url(SHOT)))

    user = stack.text_bodies()[0]["messages"][-1]["content"]
    assert "the vision model mimo-v2.5 on mimo did not answer within 0.3s" in user
    assert stack.text.violations == []


def test_without_a_vision_model_the_image_is_saved_and_the_placeholder_says_where(open_stack: Open) -> None:
    stack = open_stack()  # DeepSeek has no vision model, and none is configured

    stack.ask(user_image(data_url(SHOT)))

    stack.clean()
    assert stack.vision.requests == []
    sha = hashlib.sha256(SHOT).hexdigest()
    saved = stack.data_dir / "images" / f"{sha}.png"
    assert saved.read_bytes() == SHOT
    user = stack.text_bodies()[0]["messages"][-1]["content"]
    assert f"[image 1 (png, 16x6, sha256 {sha[:12]}) — not shown: DeepSeek has no vision model" in user
    assert f"To read it, run: mimo2codex ocr {saved}]" in user
    (note,) = stack.records[0].notes["vision"]
    assert note["model"] is None
    assert note["saved"] == str(saved)


def test_a_jpeg_labelled_png_is_saved_under_its_real_extension(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="off")
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"

    stack.ask(user_image(data_url(jpeg, "image/png")))

    sha = hashlib.sha256(jpeg).hexdigest()
    assert (stack.data_dir / "images" / f"{sha}.jpg").read_bytes() == jpeg
    assert "the vision bridge is off (--vision-model off)" in stack.text_bodies()[0]["messages"][-1]["content"]


def test_the_routed_providers_own_vision_model_is_the_default(open_stack: Open) -> None:
    """MiMo routed to its text-only pro model: mimo-v2.5 of the same provider reads the image."""
    stack = open_stack(MIMO2CODEX_DEFAULT_PROVIDER="mimo")
    seen: list[str] = []
    reader = vision_script(seen)
    stack.vision.set_script(lambda body, n: reader(body, n) if body["model"] == VISION_MODEL else Reply.text("ok"))

    stack.ask(user_image(data_url(SHOT)), model="mimo-v2.5-pro")

    assert stack.vision.violations == []
    pro = [x for x in stack.vision.chat_requests if x.body["model"] == "mimo-v2.5-pro"]
    assert len(pro) == 1
    assert b"image_url" not in pro[0].raw
    assert seen == ["Traceback: KeyError 'user_id' at app.py:42"]
    assert "read by mimo-v2.5 on mimo" in pro[0].body["messages"][-1]["content"]


def test_a_vision_model_sees_its_own_images(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_DEFAULT_PROVIDER="mimo")
    stack.vision.set_script([Reply.text("I see it myself")])

    stack.ask(user_image(data_url(SHOT)), model=VISION_MODEL)

    (exchange,) = stack.vision.chat_requests
    assert b"image_url" in exchange.raw
    assert "vision" not in stack.records[0].notes
    assert stack.vision.violations == []


def test_the_live_setting_is_read_at_request_time_and_streams_are_bridged(open_stack: Open) -> None:
    stack = open_stack()
    stack.gateway.vision.choice = "mimo/mimo-v2.5"  # what the admin toggle does

    result = stack.ask(user_image(data_url(SHOT)), stream=True)

    assert "response.completed" in result["sse"]
    assert len(stack.vision_requests()) == 1
    assert "read by mimo-v2.5 on mimo" in stack.text_bodies()[0]["messages"][-1]["content"]
    stack.clean()


def test_the_catalog_offers_image_input_when_the_bridge_can_read_images(open_stack: Open) -> None:
    def modalities(stack: Stack) -> dict[str, list[str]]:
        models = stack.client.get(CATALOG_PATH).json()["models"]
        return {m["slug"]: m["input_modalities"] for m in models}

    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5")
    # Codex 0.169.0 strips images client-side from a text-only model: the bridge would never see them.
    assert modalities(stack)[TEXT_MODEL] == ["text", "image"]
    assert modalities(stack)["mimo-v2.5-pro"] == ["text", "image"]
    stack.gateway.vision.choice = "off"
    assert modalities(stack)[TEXT_MODEL] == ["text"]
    assert modalities(stack)["mimo-v2.5-pro"] == ["text"]
    assert modalities(stack)[VISION_MODEL] == ["text", "image"]
    stack.gateway.vision.choice = None  # each provider's own: MiMo has one, DeepSeek has none
    assert modalities(stack)[TEXT_MODEL] == ["text"]
    assert modalities(stack)["mimo-v2.5-pro"] == ["text", "image"]


def test_vision_model_setting_is_checked_at_startup() -> None:
    env = {"DS_API_KEY": "k", "MIMO2CODEX_DEFAULT_PROVIDER": "ds"}
    assert load_settings({**env, "MIMO2CODEX_VISION_MODEL": "OFF"}).vision_model == "off"
    assert load_settings({**env, "MIMO2CODEX_VISION_MODEL": " mimo / mimo-v2.5 "}).vision_model == "mimo/mimo-v2.5"
    with pytest.raises(ConfigError, match="expected PROVIDER/MODEL"):
        load_settings({**env, "MIMO2CODEX_VISION_MODEL": "mimo-v2.5"})
    with pytest.raises(ConfigError, match="MIMO2CODEX_VISION_MODEL=nope: no provider has that id"):
        load_settings({**env, "MIMO2CODEX_VISION_MODEL": "nope/model"})
    keyless = load_settings({**env, "MIMO2CODEX_VISION_MODEL": "mimo/mimo-v2.5"})
    assert any("MiMo has no API key" in w for w in keyless.warnings)
    text_only = load_settings({**env, "MIMO_API_KEY": "sk-m", "MIMO2CODEX_VISION_MODEL": "mimo/mimo-v2.5-pro"})
    assert any("mimo-v2.5-pro does not accept images" in w for w in text_only.warnings)


def test_a_rejected_vision_key_is_explained_and_never_shown(open_stack: Open) -> None:
    stack = open_stack(MIMO2CODEX_VISION_MODEL="mimo/mimo-v2.5", MIMO_API_KEY="sk-wrong-vision-key-98765")

    answer = stack.ask(user_image(data_url(SHOT)))

    assert answer["status"] == "completed"
    (rejected,) = stack.vision.chat_requests
    assert rejected.status == 401
    user = stack.text_bodies()[0]["messages"][-1]["content"]
    assert "could not read it: Upstream provider mimo refused the API key (HTTP 401" in user
    assert "98765" not in user
    assert stack.text.violations == []


def test_settings_swapped_in_live_change_the_vision_model(open_stack: Open, tmp_path: Path) -> None:
    """The admin's toggle rebuilds the settings and swaps them in: the bridge follows at once."""
    stack = open_stack(MIMO_API_KEY="")  # no vision model at start: MiMo has no key
    stack.ask(user_image(data_url(SHOT)))
    assert "DeepSeek has no vision model" in stack.text_bodies()[0]["messages"][-1]["content"]

    live = load_settings(
        {
            "DS_API_KEY": "sk-deepseek-fake",
            "DEEPSEEK_BASE_URL": stack.text.url,
            "MIMO_API_KEY": "sk-mimo-fake",
            "MIMO_BASE_URL": stack.vision.url,
            "MIMO2CODEX_DEFAULT_PROVIDER": "ds",
            "MIMO2CODEX_VISION_MODEL": "mimo/mimo-v2.5",
            "MIMO2CODEX_DATA_DIR": str(tmp_path / "data"),
        }
    )
    stack.gateway.reconfigure(live, live.router())
    stack.ask(user_image(data_url(SHOT)))

    assert len(stack.vision_requests()) == 1
    assert "read by mimo-v2.5 on mimo" in stack.text_bodies()[1]["messages"][-1]["content"]
    stack.clean()
