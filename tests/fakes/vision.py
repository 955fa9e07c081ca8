"""A fake MiMo vision model, and screenshots it can "read".

A real vision model reads text from an image's pixels. The fake does the same with a simpler script:
:func:`screenshot_png` writes a text's UTF-8 bytes into the pixels of the first row of a real PNG
(3 bytes per RGB pixel, the rest white); :func:`read_pixels` decodes the PNG (signature, chunk CRCs,
zlib, all five scanline filters) and reads them back. The text survives any lossless re-encoding
Codex might do, and nothing but the pixels carries it.

:func:`vision_script` is a :class:`~tests.fakes.strict_upstream.StrictUpstream` script that answers
like MiMo's vision models: the request must be valid for ``VendorRules.mimo_vision()`` (the fake
checks that before the script runs: an image message without a text part is a 400 "Param
Incorrect: `text` is not set"), and an image it cannot decode is a 400 with MiMo's wording::

    vision = start_upstream(vision_script(), rules=VendorRules.mimo_vision(models=("mimo-v2.5",)))
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Callable
from typing import Any

from tests.fakes.strict_upstream import Reply

__all__ = ["BAD_IMAGE", "read_pixels", "screenshot_png", "vision_answer", "vision_script"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: MiMo's answer to an image it cannot decode (a 400, ``invalid_request_error``)
BAD_IMAGE = "Param Incorrect: image_url is not a valid image"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def screenshot_png(text: str, *, height: int = 6, background: bytes = b"\xff\xff\xff") -> bytes:
    """A real RGB PNG whose first pixel row carries ``text`` (at least 16 pixels wide)."""
    payload = text.encode("utf-8") + b"\x00"
    width = max(16, -(-len(payload) // 3))
    first = payload.ljust(width * 3, b"\x00")
    rows = [first] + [background * width for _ in range(height - 1)]
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_pixels(data: bytes) -> str:
    """The text in the first pixel row of a PNG; ValueError for anything that is not a valid PNG."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    at, idat, header = 8, b"", b""
    while at < len(data):
        if at + 8 > len(data):
            raise ValueError("truncated chunk")
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        crc = data[at + 8 + length : at + 12 + length]
        if len(body) != length or len(crc) != 4 or struct.unpack(">I", crc)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ValueError(f"bad {kind!r} chunk")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        at += 12 + length
    if len(header) != 13:
        raise ValueError("no IHDR")
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    if depth != 8 or color not in (2, 6) or header[12] != 0:
        raise ValueError("only 8-bit RGB/RGBA non-interlaced PNGs")
    channels = 3 if color == 2 else 4
    stride = width * channels
    try:
        raw = zlib.decompress(idat)
    except zlib.error:
        raise ValueError("corrupt image data") from None
    if len(raw) < height * (stride + 1):
        raise ValueError("short image data")
    previous = bytearray(stride)
    filter_type = raw[0]
    line = bytearray(raw[1 : 1 + stride])
    for i in range(stride):
        left = line[i - channels] if i >= channels else 0
        up, corner = previous[i], previous[i - channels] if i >= channels else 0
        predictor = (0, left, up, (left + up) // 2, _paeth(left, up, corner))[filter_type] if filter_type < 5 else -1
        if predictor < 0:
            raise ValueError("unknown filter")
        line[i] = (line[i] + predictor) & 0xFF
    pixels = bytes(line) if channels == 3 else b"".join(bytes(line[i : i + 3]) for i in range(0, stride, 4))
    return pixels.split(b"\x00", 1)[0].decode("utf-8", "replace")


def vision_answer(text: str) -> str:
    """What the fake vision model says about an image carrying ``text``."""
    return f"TEXT:\n{text}\nDESCRIPTION:\nA screenshot with a single line of text on a white background."


def _image_urls(body: dict[str, Any]) -> list[str]:
    urls: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            urls += [p["image_url"]["url"] for p in content if p.get("type") == "image_url"]
    return urls


def vision_script(seen: list[str] | None = None) -> Callable[[dict[str, Any], int], Reply]:
    """A script reading each request's images like MiMo's vision model; ``seen`` collects their texts."""

    def answer(body: dict[str, Any], number: int) -> Reply:
        texts: list[str] = []
        for url in _image_urls(body):
            header, _, payload = url.partition(",")
            if not header.startswith("data:image/") or ";base64" not in header:
                return Reply.http_error(400, BAD_IMAGE, code="400")
            try:
                texts.append(read_pixels(base64.b64decode(payload, validate=True)))
            except (ValueError, binascii.Error):
                return Reply.http_error(400, BAD_IMAGE, code="400")
        if not texts:
            return Reply.text("I see no image.")
        if seen is not None:
            seen.extend(texts)
        return Reply.text("\n".join(vision_answer(t) for t in texts), reasoning="Reading the image line by line.")

    return answer
