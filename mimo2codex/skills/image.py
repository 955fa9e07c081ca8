"""``mimo2codex image --prompt … --out FILE``: generate images with OpenAI, Replicate, a local
AUTOMATIC1111, or Pollinations, and save them under names that match their real bytes.

The file extension always follows the magic bytes: ``--out cat.png`` receiving a JPEG is saved as
``cat.jpg`` (and says so). With ``--n 3``: ``cat-1.png``, ``cat-2.png``, ``cat-3.png``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimo2codex.protocol.images import UNKNOWN, ImageFormat, dimensions, sniff_format
from mimo2codex.settings import Settings
from mimo2codex.skills.engines import CHOICES, Engine, EngineOptions, ImageJob, choose_engine
from mimo2codex.skills.engines.base import QUALITIES
from mimo2codex.skills.failure import ServiceError, UsageError, emit_json, guarded
from mimo2codex.skills.http_client import HttpClient
from mimo2codex.skills.image_input import DEFAULT_MAX_IMAGE_BYTES, ImageLoader
from mimo2codex.subcommands import Subcommand

MAX_N = 10
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
#: suffixes that name the same format as the format's own extension
_SAME = {"jpg": {".jpg", ".jpeg", ".jpe"}, "tiff": {".tiff", ".tif"}}


def parse_image_size(value: str) -> tuple[int, int] | None:
    text = value.strip().lower()
    if text == "auto":
        return None
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"a size is WIDTHxHEIGHT (e.g. 1024x1024) or auto, got {value!r}")
    return int(match.group(1)), int(match.group(2))


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if not 1 <= number <= MAX_N:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_N}, got {number}")
    return number


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=CHOICES, default="auto", help="image service (default auto)")
    parser.add_argument("--image-model", metavar="MODEL", help="the engine's model (default: its own)")
    parser.add_argument("--sd-url", metavar="URL", help="AUTOMATIC1111 web UI (default $MIMO2CODEX_SD_WEBUI_URL)")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", required=True, metavar="TEXT", help="what to draw")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to save (extension fixed)")
    parser.add_argument("--n", type=_count, default=1, metavar="N", help=f"how many images (1-{MAX_N})")
    parser.add_argument("--size", type=parse_image_size, default=None, metavar="WxH", help="e.g. 1024x1024, or auto")
    parser.add_argument("--seed", type=int, metavar="N", help="seed, for engines that take one")
    parser.add_argument("--quality", choices=QUALITIES, default="auto", help="low, medium, high or auto")
    parser.add_argument("--style", metavar="TEXT", help="a style, folded into the prompt (e.g. 'pixel art')")
    parser.add_argument("--reference", metavar="IMAGE", help="start from this image (file, URL or data: URL)")
    add_engine_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


@dataclass(frozen=True, slots=True)
class SavedImage:
    path: Path
    fmt: ImageFormat
    data: bytes
    #: the path asked for, when the real format needed another extension
    renamed_from: Path | None = None

    def describe(self) -> dict[str, Any]:
        size = dimensions(self.data, self.fmt)
        return {
            "path": str(self.path),
            "mime": self.fmt.mime,
            "bytes": len(self.data),
            "width": size[0] if size else None,
            "height": size[1] if size else None,
        }


def target_paths(out: Path, count: int) -> list[Path]:
    if count == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, count + 1)]


def with_real_extension(path: Path, fmt: ImageFormat) -> Path:
    if path.suffix.lower() in _SAME.get(fmt.ext, {f".{fmt.ext}"}):
        return path
    return path.with_suffix(f".{fmt.ext}")


def save_images(images: list[bytes], out: Path) -> list[SavedImage]:
    """Writes each image under ``out`` (numbered when several), with the extension its bytes call for."""
    saved = []
    for data, wanted in zip(images, target_paths(out, len(images)), strict=True):
        fmt = sniff_format(data)
        if fmt is UNKNOWN:
            raise ServiceError(f"the engine sent {len(data)} bytes that are not an image (first bytes {data[:8]!r})")
        path = with_real_extension(wanted, fmt)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        saved.append(SavedImage(path, fmt, data, wanted if path != wanted else None))
    return saved


def build_job(args: argparse.Namespace, http: HttpClient) -> ImageJob:
    prompt = args.prompt.strip()
    if not prompt:
        raise UsageError("--prompt is empty")
    if args.style:
        prompt = f"{prompt}. Style: {args.style.strip()}"
    reference = ImageLoader(http, max_bytes=DEFAULT_MAX_IMAGE_BYTES).load(args.reference) if args.reference else None
    return ImageJob(
        prompt=prompt,
        n=args.n,
        size=args.size,
        seed=args.seed,
        quality=args.quality,
        reference=reference,
        model=args.image_model,
    )


def pick_engine(args: argparse.Namespace, http: HttpClient) -> Engine:
    return choose_engine(args.engine, os.environ, http, EngineOptions(sd_url=args.sd_url))


def run(args: argparse.Namespace, settings: Settings) -> int:
    http = HttpClient(timeout=settings.first_byte_timeout, use_proxy=settings.use_proxy)
    job = build_job(args, http)
    engine = pick_engine(args, http)
    for note in engine.notes(job):
        print(f"mimo2codex image: {note}", file=sys.stderr)
    images = engine.generate(job)
    if not images:
        raise ServiceError(f"{engine.name} returned no images")
    saved = save_images(images, args.out)
    for item in saved:
        if item.renamed_from is not None:
            print(
                f"mimo2codex image: {engine.name} sent {item.fmt.name.upper()}, so {item.renamed_from} was saved "
                f"as {item.path}",
                file=sys.stderr,
            )
    if args.json:
        emit_json(
            {
                "ok": True,
                "command": "image",
                "engine": engine.name,
                "model": engine.model_for(job),
                "paths": [str(item.path) for item in saved],
                "images": [item.describe() for item in saved],
            }
        )
    else:
        for item in saved:
            print(item.path)
    return 0


COMMAND = Subcommand(
    name="image",
    help="generate images (openai, replicate, sd-webui, pollinations)",
    configure=configure,
    run=guarded("image", run),
)
