"""The fake vision model's own checks: it must read pixels like a decoder and fail like MiMo."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from tests.fakes.strict_upstream import VendorRules, check_request
from tests.fakes.vision import BAD_IMAGE, read_pixels, screenshot_png, vision_script


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _rgba_sub_filtered(text: str) -> bytes:
    """An RGBA PNG whose first row uses the Sub filter, as an encoder that re-compresses would write."""
    payload = text.encode() + b"\x00"
    pixels = [payload[i : i + 3].ljust(3, b"\x00") + b"\xff" for i in range(0, len(payload), 3)]
    row = b"".join(pixels)
    filtered = bytes((row[i] - (row[i - 4] if i >= 4 else 0)) & 0xFF for i in range(len(row)))
    header = struct.pack(">IIBBBBB", len(pixels), 1, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x01" + filtered))
        + _chunk(b"IEND", b"")
    )


def test_read_pixels_undoes_filters_and_alpha() -> None:
    assert read_pixels(_rgba_sub_filtered("filtered text 123")) == "filtered text 123"


def test_read_pixels_rejects_what_is_not_a_sound_png() -> None:
    shot = bytearray(screenshot_png("x"))
    shot[-10] ^= 0xFF  # a flipped bit in a chunk: its CRC no longer matches
    with pytest.raises(ValueError, match="chunk"):
        read_pixels(bytes(shot))
    with pytest.raises(ValueError, match="not a PNG"):
        read_pixels(b"GIF89a....")


def _vision_body(url: str) -> dict[str, object]:
    return {
        "model": "mimo-v2.5",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "read it"}, {"type": "image_url", "image_url": {"url": url}}],
            }
        ],
        "max_completion_tokens": 100,
    }


def test_vision_script_reads_and_fails_like_mimo() -> None:
    seen: list[str] = []
    script = vision_script(seen)
    good = "data:image/png;base64," + base64.b64encode(screenshot_png("hello 42")).decode()
    reply = script(_vision_body(good), 0)
    assert reply.status == 200
    assert reply.content is not None
    assert "hello 42" in reply.content
    assert seen == ["hello 42"]
    for bad in ("data:image/png;base64,AAAA", "https://example.com/a.png", "data:text/plain;base64,aGk="):
        refused = script(_vision_body(bad), 1)
        assert refused.status == 400
        assert refused.error_body["error"]["message"] == BAD_IMAGE


def test_the_vendor_rules_refuse_an_image_without_text() -> None:
    body = _vision_body("data:image/png;base64,AAAA")
    body["messages"] = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}]}]
    (violation,) = check_request(body, VendorRules.mimo_vision(models=("mimo-v2.5",)))
    assert violation.message == "Param Incorrect: `text` is not set"
