"""``mimo2codex chat "prompt" [--image IMG]…``: one question to a model, with images if needed.

Local images travel as data URLs (the model's server cannot read the user's disk). With images and
no ``--chat-model``, a vision model is asked. ``--web-search`` (the gateway's own switch) adds the
provider's web-search tool to this one request; it is never on by default, because MiMo keys without
the web-search plugin are refused when it is sent.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mimo2codex.settings import Settings
from mimo2codex.skills.chat_client import (
    ChatClient,
    ChatTarget,
    add_target_arguments,
    pick_vision_model,
    resolve_target,
)
from mimo2codex.skills.failure import UsageError, emit_json, guarded
from mimo2codex.skills.http_client import HttpClient
from mimo2codex.skills.image_input import DEFAULT_MAX_IMAGE_BYTES, ImageInput, ImageLoader
from mimo2codex.subcommands import Subcommand


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", metavar="PROMPT", help="the question; - reads it from stdin")
    parser.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="IMAGE",
        help="attach an image (file, URL or data: URL); repeat for several",
    )
    parser.add_argument("--system", metavar="TEXT", help="a system message")
    parser.add_argument("--chat-model", metavar="MODEL", help="the model (default: the provider's default)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    add_target_arguments(parser)
    # --web-search is the gateway's switch (an Option every command inherits): here it asks for the
    # provider's web-search tool on this request only.


def _model(args: argparse.Namespace, target: ChatTarget, settings: Settings, images: list[ImageInput]) -> str:
    if args.chat_model:
        return str(args.chat_model)
    if images:
        return pick_vision_model(None, target, settings)
    provider = target.provider or settings.default
    return provider.default_model


def _web_search_tool(model: str, target: ChatTarget, settings: Settings) -> dict[str, Any]:
    if target.provider is not None:
        provider, upstream = target.provider, model
    else:
        route = settings.router().route(model)
        provider, upstream = route.provider, route.upstream_model
    tool = provider.profile(upstream).web_search_tool
    if tool is None:
        raise UsageError(
            f"--web-search: {upstream} on {provider.id} has no web-search tool (MiMo needs a pay-as-you-go "
            "key with the web-search plugin; token-plan keys never have it)"
        )
    return tool


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.stream and args.json:
        raise UsageError("--stream and --json cannot be combined (the JSON object is printed at the end)")
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    http = HttpClient(timeout=settings.first_byte_timeout, use_proxy=settings.use_proxy)
    images = ImageLoader(http, max_bytes=DEFAULT_MAX_IMAGE_BYTES).load_all(list(args.image))
    target = resolve_target(args, settings)
    model = _model(args, target, settings, images)
    content: str | list[dict[str, Any]] = prompt
    if images:
        content = [{"type": "text", "text": prompt}]
        content += [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in images]
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": content})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if settings.web_search:
        body["tools"] = [_web_search_tool(model, target, settings)]
    client = ChatClient(http, target)
    if args.stream:
        client.complete(body, on_delta=_printer)
        print(flush=True)
        return 0
    text = client.complete(body)
    if args.json:
        emit_json(
            {
                "ok": True,
                "command": "chat",
                "model": model,
                "via": target.via,
                "web_search": settings.web_search,
                "images": [image.name for image in images],
                "text": text,
            }
        )
    else:
        print(text)
    return 0


def _printer(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


COMMAND = Subcommand(
    name="chat",
    help="ask a model one question, with images attached as data URLs",
    configure=configure,
    run=guarded("chat", run),
)
