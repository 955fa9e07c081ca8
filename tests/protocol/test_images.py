"""protocol/images.py: finding, decoding and replacing the images of a Responses request (pure)."""

from __future__ import annotations

import base64
import copy
import hashlib
import struct
from typing import Any

import pytest

from mimo2codex.protocol.images import (
    BMP,
    GIF,
    JPEG,
    PNG,
    TIFF,
    UNKNOWN,
    WEBP,
    decode_data_url,
    decode_image,
    dimensions,
    find_images,
    read_block,
    replace_images,
    sniff_format,
    unread_block,
    vision_request,
)
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.request import responses_to_chat
from tests.fakes.strict_upstream import VendorRules, check_request
from tests.fakes.vision import read_pixels, screenshot_png

SHOT = screenshot_png("error: E042 disk full")
SHOT_URL = "data:image/png;base64," + base64.b64encode(SHOT).decode()


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def _codex_request() -> dict[str, Any]:
    """The shapes Codex 0.169.0 sends (measured): ``-i`` images wrapped in <image> text parts, and a
    ``view_image`` result as a function_call_output array."""
    return {
        "model": "deepseek-v4-pro",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": '<image name=[Image #1] path="/w/shot.png">'},
                    {"type": "input_image", "image_url": SHOT_URL, "detail": "high"},
                    {"type": "input_text", "text": "</image>"},
                    {"type": "input_text", "text": "what does it say?"},
                ],
            },
            {"type": "function_call", "call_id": "c1", "name": "view_image", "arguments": '{"path":"a.png"}'},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_image", "image_url": SHOT_URL, "detail": "high"}],
            },
            {"type": "custom_tool_call_output", "call_id": "c2", "output": "plain text, no image"},
        ],
    }


# -- formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt", "size"),
    [
        (SHOT, PNG, (16, 6)),
        (_jpeg(640, 480), JPEG, (640, 480)),
        (b"GIF89a" + struct.pack("<HH", 32, 20) + b"\x00" * 8, GIF, (32, 20)),
        (
            b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 8 + (99).to_bytes(3, "little") + (49).to_bytes(3, "little"),
            WEBP,
            (100, 50),
        ),
        (b"BM" + b"\x00" * 16 + struct.pack("<ii", 8, -4) + b"\x00" * 8, BMP, (8, 4)),
        (b"II*\x00" + b"\x00" * 8, TIFF, None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", UNKNOWN, None),
    ],
)
def test_format_comes_from_magic_bytes(data: bytes, fmt: object, size: tuple[int, int] | None) -> None:
    assert sniff_format(data) is fmt
    assert dimensions(data, sniff_format(data)) == size


def test_truncated_headers_have_no_dimensions() -> None:
    assert dimensions(SHOT[:20], PNG) is None
    assert dimensions(b"\xff\xd8\xff\xe0\x00", JPEG) is None


def test_data_url_decoding() -> None:
    assert decode_data_url(SHOT_URL) == ("image/png", SHOT)
    # Line breaks inside the payload and dropped padding are tolerated; the declared type is kept.
    wrapped = "data:image/jpeg;base64," + "\n".join(base64.b64encode(SHOT).decode().rstrip("="))
    assert decode_data_url(wrapped) == ("image/jpeg", SHOT)
    assert decode_data_url("data:,hello%20there") == ("text/plain", b"hello there")
    assert decode_data_url("data:image/svg+xml,%3Csvg%2F%3E%zz%4") == ("image/svg+xml", b"<svg/>%zz%4")
    for bad, why in (
        ("https://example.com/a.png", "not a data: URL"),
        ("data:image/png;base64", "without a comma"),
        ("data:image/png;base64,@@@", "corrupt"),
    ):
        with pytest.raises(ValueError, match=why):
            decode_data_url(bad)


def test_decode_image_trusts_the_bytes_not_the_declared_type() -> None:
    image = decode_image("data:image/jpeg;base64," + base64.b64encode(SHOT).decode())
    assert image.fmt is PNG
    assert image.sha256 == hashlib.sha256(SHOT).hexdigest()
    assert image.size == (16, 6)
    assert image.normalized_url == SHOT_URL  # re-labelled image/png for the vision model
    assert image.facts() == f"png, 16x6, sha256 {image.sha256[:12]}"
    assert image.readable
    assert not image.remote


def test_remote_urls_are_kept_and_keyed_by_their_text() -> None:
    image = decode_image("https://example.com/a.png")
    assert image.remote
    assert image.readable
    assert image.normalized_url == "https://example.com/a.png"
    assert image.sha256 == hashlib.sha256(b"https://example.com/a.png").hexdigest()
    with pytest.raises(ValueError, match="empty"):
        decode_image("data:image/png;base64,")


# -- finding and replacing -------------------------------------------------------------------------


def test_find_images_in_user_messages_and_tool_outputs() -> None:
    refs = find_images(_codex_request())
    assert [(r.number, r.where, r.from_tool) for r in refs] == [
        (1, "input[1].content[1]", False),
        (2, "input[3].output[0]", True),
    ]
    assert {r.url for r in refs} == {SHOT_URL}


def test_find_images_accepts_chat_shapes_and_skips_what_it_cannot_read() -> None:
    request = {
        "input": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "tool", "tool_call_id": "t", "content": [{"type": "input_image", "image_url": SHOT_URL}]},
            {"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]},  # no bytes
            {"role": "assistant", "content": [{"type": "input_image", "image_url": SHOT_URL}]},  # not ours
            {"role": "user", "content": [{"type": "input_image", "image_url": 7}]},  # malformed: translator
            "not an item",
        ]
    }
    assert [(r.where, r.from_tool) for r in find_images(request)] == [
        ("input[0].content[0]", False),
        ("input[1].content[0]", True),
    ]
    assert find_images({"input": "just text"}) == []


def test_replace_images_leaves_the_original_untouched() -> None:
    request = _codex_request()
    before = copy.deepcopy(request)
    replaced = replace_images(request, {1: "BLOCK ONE", 2: "BLOCK TWO"})
    assert request == before
    assert replaced["input"][1]["content"][1] == {"type": "input_text", "text": "BLOCK ONE"}
    assert replaced["input"][3]["output"] == [{"type": "input_text", "text": "BLOCK TWO"}]
    assert replaced["input"][0] is request["input"][0]  # untouched items are shared, not copied
    assert find_images(replaced) == []
    assert replace_images(request, {}) is request


def test_a_bridged_request_reaches_a_text_only_vendor_as_plain_text() -> None:
    """After the bridge, the translator sees text only: no placeholder of its own, no image part."""
    image = decode_image(SHOT_URL)
    blocks = {n: read_block(n, image, "TEXT:\nerror: E042 disk full", "mimo-v2.5 on mimo") for n in (1, 2)}
    request = replace_images(_codex_request(), blocks)
    profile = UpstreamProfile(model="deepseek-v4-pro", label="deepseek-v4-pro on deepseek", supports_images=False)
    chat = responses_to_chat(request, profile)
    assert check_request(chat.body, VendorRules(vision=False)) == []
    user = chat.body["messages"][1]["content"]
    assert isinstance(user, str)
    assert "error: E042 disk full" in user
    assert "[image 1 (png, 16x6, sha256 " in user
    assert "what does it say?" in user
    tool = chat.body["messages"][3]
    assert tool["role"] == "tool"
    assert "[end of image 2]" in tool["content"]
    assert not [n for n in chat.notes if n.code == "image_omitted"]


# -- text blocks -----------------------------------------------------------------------------------


def test_read_block_is_delimited_and_names_the_reader() -> None:
    image = decode_image(SHOT_URL)
    block = read_block(3, image, "  TEXT:\nhello\n", "mimo-v2.5 on mimo")
    lines = block.splitlines()
    assert (
        lines[0]
        == f"[image 3 (png, 16x6, sha256 {image.sha256[:12]}) — read by mimo-v2.5 on mimo; you see this text instead of the image]"
    )
    assert lines[1:] == ["TEXT:", "hello", "[end of image 3]"]


def test_unread_block_says_why_where_and_how_to_read_it() -> None:
    image = decode_image(SHOT_URL)
    block = unread_block(
        2, image, "DeepSeek has no vision model", saved_to="/d/images/x.png", command="mimo2codex ocr /d/images/x.png"
    )
    assert block.startswith(f"[image 2 (png, 16x6, sha256 {image.sha256[:12]}) — not shown: DeepSeek has no vision")
    assert "Saved to /d/images/x.png" in block
    assert block.endswith("To read it, run: mimo2codex ocr /d/images/x.png]")
    remote = unread_block(1, decode_image("https://x/y.png"), "off")
    assert remote.endswith("It is at https://x/y.png]")
    assert unread_block(4, None, "its data URL is unreadable") == "[image 4 — not shown: its data URL is unreadable]"


def test_vision_request_is_valid_for_mimo_vision_after_translation() -> None:
    profile = UpstreamProfile(
        model="mimo-v2.5", max_tokens_field="max_completion_tokens", extra_body={"thinking": {"type": "enabled"}}
    )
    chat = responses_to_chat(vision_request("mimo-v2.5", SHOT_URL, 4096), profile)
    assert check_request(chat.body, VendorRules.mimo_vision(models=("mimo-v2.5",))) == []
    (message,) = chat.body["messages"]
    assert message["content"][0]["type"] == "text"
    assert message["content"][1]["image_url"]["url"] == SHOT_URL
    assert chat.body["stream"] is False
    assert chat.body["max_completion_tokens"] == 4096


def test_the_fake_screenshot_carries_its_text_in_pixels() -> None:
    assert read_pixels(SHOT) == "error: E042 disk full"
    assert read_pixels(screenshot_png("你好 ✓")) == "你好 ✓"
    with pytest.raises(ValueError, match="chunk"):
        read_pixels(SHOT[:-20])
