"""``mimo2codex ocr IMAGE… | -``: read the text in images (or describe them) with a vision model.

Each image is one Chat Completions request (so each gets its own answer), through the gateway by
default. ``--mode`` picks what is asked: ``text`` (a faithful transcription), ``describe``,
``markdown`` or ``structured`` (JSON of :data:`~mimo2codex.skills.ocr_schema.SCHEMA`, validated).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mimo2codex.options import parse_size
from mimo2codex.settings import Settings
from mimo2codex.skills.chat_client import ChatClient, add_target_arguments, pick_vision_model, resolve_target
from mimo2codex.skills.failure import InvalidOutput, UsageError, emit_json, guarded
from mimo2codex.skills.http_client import HttpClient
from mimo2codex.skills.image_input import DEFAULT_MAX_IMAGE_BYTES, ImageInput, ImageLoader
from mimo2codex.skills.ocr_schema import SCHEMA, StructuredOutputError, parse_structured
from mimo2codex.subcommands import Subcommand

MODES: dict[str, str] = {
    "text": (
        "Transcribe every piece of text in this image exactly as written: code, terminal output, error "
        "messages, UI labels, numbers. Keep line breaks and indentation. Output only the text, no comments. "
        "If there is no text, output (no text). Mark text you cannot read as [unreadable]."
    ),
    "describe": (
        "Describe this image for someone who cannot see it: what kind of image it is (screenshot, diagram, "
        "photo, chart), its layout, the important text, and anything highlighted or in an error state."
    ),
    "markdown": (
        "Convert the content of this image to Markdown: headings, lists, tables and code blocks as they "
        "appear, text exactly as written. Output only the Markdown."
    ),
    "structured": (
        "Read this image and answer with one JSON object only (no prose, no code fence) that follows this "
        "JSON schema:\n" + json.dumps(SCHEMA, ensure_ascii=False)
    ),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image file, http(s) URL, data: URL, or - for stdin")
    parser.add_argument("--mode", choices=tuple(MODES), default="text", help="what to ask for (default text)")
    parser.add_argument("--lang", metavar="LANG", help="the text's language, or the language to answer in (e.g. zh)")
    parser.add_argument("--prompt", metavar="TEXT", help="extra instructions for the model")
    parser.add_argument("--ocr-model", metavar="MODEL", help="the vision model (default: the provider's)")
    parser.add_argument(
        "--max-image-size",
        type=_size,
        default=DEFAULT_MAX_IMAGE_BYTES,
        metavar="SIZE",
        help="refuse images larger than this (default 10M)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (see docs/skills.md)")
    parser.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    add_target_arguments(parser)


def _size(value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def instruction(mode: str, lang: str | None, extra: str | None) -> str:
    parts = [MODES[mode]]
    if lang:
        parts.append(f"The text is mostly in {lang}; write your answer in {lang} where you add words of your own.")
    if extra:
        parts.append(extra)
    return "\n\n".join(parts)


def request_body(model: str, image: ImageInput, prompt: str) -> dict[str, Any]:
    # The text part first: MiMo rejects an image message without text ("`text` is not set").
    content = [{"type": "text", "text": prompt}, {"type": "image_url", "image_url": {"url": image.data_url()}}]
    return {"model": model, "messages": [{"role": "user", "content": content}]}


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.stream and args.json:
        raise UsageError("--stream and --json cannot be combined (the JSON object is printed at the end)")
    http = HttpClient(timeout=settings.first_byte_timeout, use_proxy=settings.use_proxy)
    images = ImageLoader(http, max_bytes=args.max_image_size).load_all(list(args.images))
    target = resolve_target(args, settings)
    model = pick_vision_model(args.ocr_model, target, settings)
    client = ChatClient(http, target)
    prompt = instruction(args.mode, args.lang, args.prompt)
    results: list[dict[str, Any]] = []
    for number, image in enumerate(images, 1):
        if not args.json and len(images) > 1:
            print(f"{'' if number == 1 else chr(10)}==> {image.name} <==", flush=True)
        on_delta = _printer if args.stream else None
        text = client.complete(request_body(model, image, prompt), on_delta=on_delta)
        result: dict[str, Any] = {"image": image.name, "mime": image.mime, "bytes": len(image.data), "text": text}
        if args.mode == "structured":
            try:
                result["data"] = parse_structured(text)
            except StructuredOutputError as exc:
                raise InvalidOutput(
                    f"{model} did not return the promised JSON for {image.name}: {exc}. Try again, or use --mode text"
                ) from None
        results.append(result)
        if args.stream:
            print(flush=True)
        elif not args.json:
            print(text if args.mode != "structured" else json.dumps(result["data"], ensure_ascii=False, indent=2))
    if args.json:
        emit_json(
            {"ok": True, "command": "ocr", "mode": args.mode, "model": model, "via": target.via, "results": results}
        )
    return 0


def _printer(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


COMMAND = Subcommand(
    name="ocr",
    help="read the text in images (or describe them) with a vision model",
    configure=configure,
    run=guarded("ocr", run),
)
