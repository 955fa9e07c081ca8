"""The images a command was given (paths, URLs, data URLs, ``-`` for stdin) as checked bytes.

The type comes from the magic bytes (:func:`mimo2codex.protocol.images.sniff_format`), never from a
file name or a Content-Type; an image over the size cap is refused before anything is sent.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mimo2codex.protocol.images import UNKNOWN, ImageFormat, decode_data_url, dimensions, sniff_format
from mimo2codex.skills.failure import ServiceError, UsageError
from mimo2codex.skills.http_client import HttpClient

#: per image; vision APIs refuse far smaller payloads than the gateway's body limit
DEFAULT_MAX_IMAGE_BYTES = 10 << 20


@dataclass(frozen=True, slots=True)
class ImageInput:
    #: how the user named it (a path, a shortened URL, "stdin")
    name: str
    data: bytes
    fmt: ImageFormat

    @property
    def mime(self) -> str:
        return self.fmt.mime

    @property
    def size(self) -> tuple[int, int] | None:
        return dimensions(self.data, self.fmt)

    def data_url(self) -> str:
        return f"data:{self.fmt.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def _human(count: int) -> str:
    if count < 1 << 20:
        return f"{count / 1024:.0f} KB"
    return f"{count / (1 << 20):.1f} MB"


def _short(source: str) -> str:
    return source if len(source) <= 60 else source[:40] + "…" + source[-12:]


class ImageLoader:
    """Reads image arguments. ``stdin`` and ``client`` are seams for tests."""

    def __init__(
        self,
        client: HttpClient,
        *,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        stdin: BinaryIO | None = None,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.stdin = stdin

    def load_all(self, sources: list[str]) -> list[ImageInput]:
        if sources.count("-") > 1:
            raise UsageError("'-' (stdin) can be given only once")
        return [self.load(source) for source in sources]

    def load(self, source: str) -> ImageInput:
        if source == "-":
            stream = self.stdin if self.stdin is not None else sys.stdin.buffer
            return self._checked("stdin", stream.read(self.max_bytes + 1))
        if source.startswith("data:"):
            try:
                _, data = decode_data_url(source)
            except ValueError as exc:
                raise UsageError(f"image {_short(source)}: {exc}") from None
            return self._checked("data URL", data)
        if source.startswith(("http://", "https://")):
            return self._download(source)
        return self._read_file(source)

    def _read_file(self, source: str) -> ImageInput:
        path = Path(source).expanduser()
        try:
            size = path.stat().st_size
            if path.is_dir():
                raise UsageError(f"image {source}: is a directory")
            if size > self.max_bytes:
                raise UsageError(self._too_big(source, size))
            data = path.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"image {source}: no such file") from None
        except PermissionError:
            raise UsageError(f"image {source}: permission denied") from None
        except OSError as exc:
            raise UsageError(f"image {source}: {exc.strerror or exc}") from None
        return self._checked(source, data)

    def _download(self, url: str) -> ImageInput:
        answer = self.client.send("GET", url, limit=self.max_bytes)
        if not answer.ok:
            raise ServiceError(f"image {_short(url)}: the server answered HTTP {answer.status}")
        return self._checked(_short(url), answer.body)

    def _too_big(self, name: str, size: int, *, exact: bool = True) -> str:
        # Streams (stdin, URLs) are read up to the cap only: their real size is unknown.
        how_big = _human(size) if exact else f"over {_human(self.max_bytes)}"
        return (
            f"image {name} is {how_big}; the cap is {_human(self.max_bytes)} per image "
            "(--max-image-size; shrink or crop it first)"
        )

    def _checked(self, name: str, data: bytes) -> ImageInput:
        if len(data) > self.max_bytes:
            raise UsageError(self._too_big(name, len(data), exact=False))
        if not data:
            raise UsageError(f"image {name} is empty")
        fmt = sniff_format(data)
        if fmt is UNKNOWN:
            raise UsageError(f"image {name} is not an image (PNG, JPEG, GIF, WebP, BMP or TIFF by its first bytes)")
        return ImageInput(name, data, fmt)
