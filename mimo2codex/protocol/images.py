"""Images in a Responses request, for models that cannot see them: find, decode, replace with text.

The vision bridge (``mimo2codex.vision``) does the I/O; this module is the pure part::

    refs = find_images(request)                    # every image part, in request order
    image = decode_image(refs[0].url)              # bytes, format from magic bytes, sha256, size
    text = read_block(refs[0].number, image, reading, "mimo-v2.5 on mimo")
    request = replace_images(request, {1: text})   # image parts -> input_text parts (a new dict)

Images are looked for where Codex puts them: ``input_image`` parts of user messages (``-i``, pasted
screenshots) and the output arrays of ``function_call_output`` / ``custom_tool_call_output`` items
(``view_image``), plus the Chat-shaped spellings the translator also accepts (``image_url`` parts,
``role: "tool"`` messages). A malformed part is skipped here: the translator rejects it with the
field named. A ``file_id`` reference has no bytes to read and is left to the translator's placeholder.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_IMAGE_PARTS = frozenset({"input_image", "image_url"})
_TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})


@dataclass(frozen=True, slots=True)
class ImageFormat:
    mime: str
    ext: str

    @property
    def name(self) -> str:
        return self.ext


PNG = ImageFormat("image/png", "png")
JPEG = ImageFormat("image/jpeg", "jpg")
GIF = ImageFormat("image/gif", "gif")
WEBP = ImageFormat("image/webp", "webp")
BMP = ImageFormat("image/bmp", "bmp")
TIFF = ImageFormat("image/tiff", "tiff")
#: bytes no magic number recognises; saved as ``.bin``, never sent to a vision model
UNKNOWN = ImageFormat("application/octet-stream", "bin")


def sniff_format(data: bytes) -> ImageFormat:
    """The image format from the magic bytes (a data URL's declared MIME type can be wrong)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:2] == b"BM":
        return BMP
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    return UNKNOWN


def dimensions(data: bytes, fmt: ImageFormat) -> tuple[int, int] | None:
    """(width, height) from the image header, or None when the header cannot be read."""
    try:
        if fmt is PNG and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        if fmt is GIF:
            width, height = struct.unpack("<HH", data[6:10])
            return int(width), int(height)
        if fmt is BMP:
            width, height = struct.unpack("<ii", data[18:26])
            return int(width), abs(int(height))
        if fmt is WEBP:
            return _webp_size(data)
        if fmt is JPEG:
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if kind == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    # Walk the segments to the first start-of-frame marker (C0-CF except C4, C8, CC: tables).
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return int(width), int(height)
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        at += 2 + int(length)
    return None


def decode_data_url(url: str) -> tuple[str, bytes]:
    """(declared MIME type, bytes) of a ``data:`` URL; ValueError when it is not one or is corrupt."""
    if not url.startswith("data:"):
        raise ValueError("not a data: URL")
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise ValueError("a data: URL without a comma")
    params = header.split(";")
    mime = params[0].strip().lower() or "text/plain"
    if "base64" in (p.strip().lower() for p in params[1:]):
        try:
            # Whitespace and line breaks occur in hand-made data URLs; padding is sometimes dropped.
            compact = "".join(payload.split())
            return mime, base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("its base64 payload is corrupt") from None
    return mime, _percent_decoded(payload)


def _percent_decoded(text: str) -> bytes:
    raw = text.encode("utf-8")
    out = bytearray()
    at = 0
    while at < len(raw):
        escape = raw[at + 1 : at + 3]
        if raw[at] == 0x25 and len(escape) == 2 and all(c in b"0123456789abcdefABCDEF" for c in escape):
            out.append(int(escape, 16))
            at += 3
        else:
            out.append(raw[at])
            at += 1
    return bytes(out)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image part of a request: where it is and what it points at."""

    #: 1-based, in request order: the number the text block carries ("image 2")
    number: int
    #: index of the item in ``input``
    item: int
    #: the list holding the part: "content" (messages) or "output" (tool outputs)
    field: str
    #: index of the part in that list
    part: int
    url: str
    #: True when the image came back from a tool (``view_image``), False for a user's image
    from_tool: bool

    @property
    def where(self) -> str:
        return f"input[{self.item}].{self.field}[{self.part}]"


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """The bytes behind an image URL (``data`` is empty for a remote URL, which is passed on as is)."""

    url: str
    data: bytes
    fmt: ImageFormat
    #: hex sha256 of the bytes (of the URL text for a remote URL): the cache key
    sha256: str
    size: tuple[int, int] | None

    @property
    def remote(self) -> bool:
        return not self.url.startswith("data:")

    @property
    def readable(self) -> bool:
        """A vision model can be asked about it: a known raster format, or a URL it fetches itself."""
        return self.remote or self.fmt is not UNKNOWN

    @property
    def normalized_url(self) -> str:
        """The URL to send a vision model: a data URL carrying the MIME type the bytes really have."""
        if self.remote:
            return self.url
        return f"data:{self.fmt.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def facts(self) -> str:
        """ "png, 1280x720, sha256 ab12cd34ef56" -- what the block header says about the image."""
        parts = [self.fmt.name if not self.remote else "remote URL"]
        if self.size is not None:
            parts.append(f"{self.size[0]}x{self.size[1]}")
        parts.append(f"sha256 {self.sha256[:12]}")
        return ", ".join(parts)


def decode_image(url: str) -> DecodedImage:
    """The image behind ``url`` (a data URL, or a remote URL kept as is); ValueError for a corrupt one."""
    if not url.startswith("data:"):
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return DecodedImage(url, b"", UNKNOWN, digest, None)
    _, data = decode_data_url(url)
    if not data:
        raise ValueError("the data: URL is empty")
    fmt = sniff_format(data)
    return DecodedImage(url, data, fmt, hashlib.sha256(data).hexdigest(), dimensions(data, fmt))


def _part_url(part: object) -> str | None:
    if not isinstance(part, dict) or part.get("type") not in _IMAGE_PARTS:
        return None
    url = part.get("image_url")
    if isinstance(url, dict):  # Chat-shaped {"image_url": {"url": ...}}
        url = url.get("url")
    return url if isinstance(url, str) and url else None


def _image_lists(item: dict[str, Any]) -> tuple[str, list[Any]] | None:
    """The part list of an item that may hold images, and its field name."""
    kind = item.get("type")
    if kind in _TOOL_OUTPUTS:
        output = item.get("output")
        return ("output", output) if isinstance(output, list) else None
    if kind is None or kind == "message":
        content = item.get("content")
        if item.get("role") in ("user", "tool") and isinstance(content, list):
            return "content", content
    return None


def find_images(request: Mapping[str, Any]) -> list[ImageRef]:
    """Every image part of ``request["input"]`` that has a URL, in order."""
    items = request.get("input")
    if not isinstance(items, list):
        return []
    found: list[ImageRef] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        located = _image_lists(item)
        if located is None:
            continue
        field, parts = located
        from_tool = field == "output" or item.get("role") == "tool"
        for position, part in enumerate(parts):
            url = _part_url(part)
            if url is not None:
                found.append(ImageRef(len(found) + 1, index, field, position, url, from_tool))
    return found


def replace_images(request: dict[str, Any], texts: Mapping[int, str]) -> dict[str, Any]:
    """A copy of ``request`` whose image parts numbered in ``texts`` are ``input_text`` parts.

    Only the items and lists that change are copied; the caller's request is left untouched.
    """
    if not texts:
        return request
    items = list(request["input"])
    for ref in find_images(request):
        text = texts.get(ref.number)
        if text is None:
            continue
        item = dict(items[ref.item])
        parts = list(item[ref.field])
        parts[ref.part] = {"type": "input_text", "text": text}
        item[ref.field] = parts
        items[ref.item] = item
    return {**request, "input": items}


# -- the text that replaces an image ---------------------------------------------------------------

#: what the vision model is asked for each image; one fixed prompt keeps the cache valid per image
VISION_PROMPT = (
    "You are the eyes of a coding assistant that cannot see images. Report what this image contains so "
    "that the assistant can work from your text alone.\n"
    "1. Under the heading TEXT, transcribe every piece of readable text exactly as written (code, "
    "terminal output, error messages, UI labels, numbers), keeping line breaks and indentation. Write "
    "(no text) if there is none.\n"
    "2. Under the heading DESCRIPTION, describe the image in a few sentences: what kind of image it is "
    "(screenshot, diagram, photo, chart), its layout, and anything highlighted, selected or in an error "
    "state.\n"
    "Do not guess at text you cannot read; mark it [unreadable]."
)


def vision_request(model: str, url: str, max_output_tokens: int) -> dict[str, Any]:
    """The Responses request asking a vision model about one image (translated like any other)."""
    return {
        "model": model,
        "input": [
            {
                "type": "message",
                "role": "user",
                # The text part comes first: MiMo rejects an image message without one.
                "content": [
                    {"type": "input_text", "text": VISION_PROMPT},
                    {"type": "input_image", "image_url": url, "detail": "high"},
                ],
            }
        ],
        "max_output_tokens": max_output_tokens,
        "stream": False,
    }


def read_block(number: int, image: DecodedImage, reading: str, reader: str) -> str:
    """The text block standing for an image a vision model read."""
    return (
        f"[image {number} ({image.facts()}) — read by {reader}; you see this text instead of the image]\n"
        f"{reading.strip()}\n"
        f"[end of image {number}]"
    )


def unread_block(
    number: int,
    image: DecodedImage | None,
    reason: str,
    *,
    saved_to: str | None = None,
    command: str | None = None,
) -> str:
    """The placeholder for an image nobody read: why, where it was saved, and how to read it."""
    facts = f" ({image.facts()})" if image is not None else ""
    lines = [f"[image {number}{facts} — not shown: {reason}"]
    if saved_to is not None:
        lines.append(f"Saved to {saved_to}")
        if command is not None:
            lines.append(f"To read it, run: {command}")
    elif image is not None and image.remote:
        lines.append(f"It is at {image.url}")
    return "\n".join(lines) + "]"
