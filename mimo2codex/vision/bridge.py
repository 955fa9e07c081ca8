"""The vision bridge at request time: read each image with a vision model, or save it and say where.

Called by ``POST /v1/responses`` before translation, for requests routed to a model without vision::

    body = await gateway.vision.bridge(gateway, route.provider, profile, body, record)

Each distinct image of the request is read once, concurrently with the others (at most
``concurrency`` at a time), through the gateway's transport with the vision provider's own key and the
gateway's retries; the answer is cached by sha256. A failure never fails the request: that image
becomes a placeholder with the reason. ``record.notes["vision"]`` lists what happened to each image.

``choice`` is the one place the ``--vision-model`` value is read at request time (an admin toggle
changes it there).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mimo2codex.errors import GatewayError
from mimo2codex.protocol.context import ResponseContext
from mimo2codex.protocol.failure import classify_upstream_failure, to_error
from mimo2codex.protocol.images import (
    DecodedImage,
    decode_image,
    find_images,
    read_block,
    replace_images,
    unread_block,
    vision_request,
)
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.request import responses_to_chat
from mimo2codex.protocol.response import chat_to_response
from mimo2codex.providers.base import Provider
from mimo2codex.redaction import redact
from mimo2codex.request_log import RequestRecord
from mimo2codex.retry import open_with_retries
from mimo2codex.upstream import UpstreamRequest
from mimo2codex.vision.backend import NoBackend, VisionBackend, choose_backend
from mimo2codex.vision.cache import VisionCache

if TYPE_CHECKING:
    from mimo2codex.gateway import Gateway
    from mimo2codex.settings import Settings

log = logging.getLogger("mimo2codex")

#: ``<data dir>/images``: images nobody could read, for ``mimo2codex ocr``
IMAGES_DIR = "images"
#: ``<data dir>/vision-cache``: what vision models said, by sha256
CACHE_DIR = "vision-cache"
#: the command a placeholder tells the model (and the user) to run on a saved image
OCR_COMMAND = "mimo2codex ocr"


class VisionFailed(Exception):
    """The vision model gave no usable answer; the message says why (shown in the placeholder)."""


@dataclass(slots=True)
class _Reading:
    """What became of one distinct image."""

    text: str | None = None
    reader: str | None = None
    cached: bool = False
    ms: float = 0.0
    error: str | None = None
    saved: Path | None = None


class VisionBridge:
    def __init__(
        self,
        settings: Settings,
        *,
        concurrency: int = 4,
        timeout: float = 120.0,
        max_output_tokens: int = 8192,
    ) -> None:
        #: ``--vision-model``: "provider/model", "off", or None (each provider's own vision model)
        self.choice: str | None = settings.vision_model
        #: where a ``provider/model`` choice is looked up (a provider added live must be found)
        self.providers = settings.providers
        self.images_dir = Path(settings.data_dir) / IMAGES_DIR
        self.cache = VisionCache(Path(settings.data_dir) / CACHE_DIR)
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_output_tokens = max_output_tokens
        # One read per image at a time across requests: two sessions sending the same screenshot wait
        # for the same answer. A read finishes (and is cached) even when its request goes away.
        self._inflight: dict[tuple[str, str], asyncio.Task[str]] = {}

    def follow(self, settings: Settings) -> None:
        """Take the vision setting and the providers of settings swapped in live (the admin)."""
        self.choice = settings.vision_model
        self.providers = settings.providers

    def backend(self, routed: Provider) -> VisionBackend | NoBackend:
        return choose_backend(self.choice, self.providers, routed)

    def reads_images_for(self, provider: Provider) -> bool:
        """True when images sent to ``provider``'s text-only models get read (the catalog says so)."""
        return isinstance(self.backend(provider), VisionBackend)

    async def bridge(
        self,
        gateway: Gateway,
        routed: Provider,
        profile: UpstreamProfile,
        body: dict[str, Any],
        record: RequestRecord,
    ) -> dict[str, Any]:
        """``body`` with every image replaced by text, when the routed model cannot see images."""
        if profile.supports_images:
            return body
        refs = find_images(body)
        if not refs:
            return body
        backend = self.backend(routed)
        decoded: dict[int, DecodedImage | str] = {}
        for ref in refs:
            try:
                decoded[ref.number] = decode_image(ref.url)
            except ValueError as exc:
                decoded[ref.number] = f"its data URL is unreadable ({exc})"
        distinct = {image.sha256: image for image in decoded.values() if isinstance(image, DecodedImage)}
        gate = asyncio.Semaphore(self.concurrency)
        readings = await asyncio.gather(*(self._read(gateway, backend, image, gate) for image in distinct.values()))
        by_sha = dict(zip(distinct, readings, strict=True))

        texts: dict[int, str] = {}
        notes: list[dict[str, Any]] = []
        for ref in refs:
            image = decoded[ref.number]
            if isinstance(image, str):
                texts[ref.number] = unread_block(ref.number, None, image)
                notes.append({"number": ref.number, "error": image})
                continue
            reading = by_sha[image.sha256]
            if reading.text is not None and reading.reader is not None:
                texts[ref.number] = read_block(ref.number, image, reading.text, reading.reader)
            else:
                saved = str(reading.saved) if reading.saved is not None else None
                command = f"{OCR_COMMAND} {_shell_quote(saved)}" if saved is not None else None
                texts[ref.number] = unread_block(
                    ref.number, image, reading.error or "unknown", saved_to=saved, command=command
                )
            notes.append(_note(image, reading, backend, from_tool=ref.from_tool))
        record.notes["vision"] = notes
        read = sum(1 for n in notes if "error" not in n)
        log.info(
            "[%s] vision bridge: %d image(s), %d read for %s, %d placeholder(s)",
            record.request_id,
            len(refs),
            read,
            profile.label or profile.model,
            len(refs) - read,
        )
        return replace_images(body, texts)

    async def _read(
        self, gateway: Gateway, backend: VisionBackend | NoBackend, image: DecodedImage, gate: asyncio.Semaphore
    ) -> _Reading:
        started = time.perf_counter()
        reading = _Reading()
        if isinstance(backend, NoBackend):
            reading.error = backend.reason
        elif not image.readable:
            reading.error = "its bytes are not a PNG, JPEG, GIF, WebP, BMP or TIFF image"
        else:
            key = (image.sha256, backend.spec)
            cached = await self.cache.get(key)
            if cached is not None:
                reading.text, reading.reader, reading.cached = cached, backend.label, True
            else:
                try:
                    async with gate:
                        reading.text = await self._shared_read(gateway, backend, image)
                    reading.reader = backend.label
                except (VisionFailed, GatewayError) as exc:
                    message = exc.message if isinstance(exc, GatewayError) else str(exc)
                    reading.error = f"the vision model {backend.label} could not read it: {message}"
                except TimeoutError:
                    reading.error = f"the vision model {backend.label} did not answer within {self.timeout:g}s"
        if reading.text is None and not image.remote:
            reading.saved = await self._save(image)
        reading.ms = (time.perf_counter() - started) * 1000
        return reading

    async def _shared_read(self, gateway: Gateway, backend: VisionBackend, image: DecodedImage) -> str:
        key = (image.sha256, backend.spec)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._ask(gateway, backend, image))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        async with asyncio.timeout(self.timeout):
            text = await asyncio.shield(task)
        return text

    def _settled(self, key: tuple[str, str], task: asyncio.Task[str]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have timed out and left

    async def _ask(self, gateway: Gateway, backend: VisionBackend, image: DecodedImage) -> str:
        """One Chat Completions call to the vision model; the text of its answer (then cached)."""
        provider = backend.provider
        profile = provider.profile(backend.model)
        chat = responses_to_chat(vision_request(profile.model, image.normalized_url, self.max_output_tokens), profile)
        request = UpstreamRequest(provider, "/chat/completions", orjson.dumps(chat.body), False)
        response = await open_with_retries(gateway.transport, request, gateway.retry_policy)
        try:
            raw = await response.read()
        finally:
            response.close()
        secret = provider.api_key.reveal() if provider.api_key else ""
        if response.status >= 400:
            failure = classify_upstream_failure(response.status, raw, retry_after=response.headers.get("retry-after"))
            raise VisionFailed(_scrubbed(to_error(failure, provider.id).message, secret))
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise VisionFailed(f"its answer is not JSON ({raw[:80]!r})") from None
        if not isinstance(answer, dict):
            raise VisionFailed("its answer is not a JSON object")
        if answer.get("error"):
            failure = classify_upstream_failure(0, answer)
            raise VisionFailed(_scrubbed(to_error(failure, provider.id).message, secret))
        ctx = ResponseContext(response_id="vision", created_at=0, model=profile.model, think_tags=profile.think_tags)
        response_object = chat_to_response(answer, ctx)
        text = "".join(
            part.get("text", "")
            for item in response_object.get("output", [])
            if item.get("type") == "message"
            for part in item.get("content", [])
            if part.get("type") == "output_text"
        ).strip()
        if not text:
            raise VisionFailed("it answered with no text")
        await self.cache.put((image.sha256, backend.spec), text)
        return text

    async def _save(self, image: DecodedImage) -> Path | None:
        path = self.images_dir / f"{image.sha256}.{image.fmt.ext}"
        try:
            await asyncio.to_thread(_write_once, path, image.data)
        except OSError as exc:
            log.warning("could not save an image for the vision bridge to %s: %s", path, exc)
            return None
        return path


def _note(
    image: DecodedImage, reading: _Reading, backend: VisionBackend | NoBackend, *, from_tool: bool
) -> dict[str, Any]:
    """One entry of ``record.notes["vision"]`` (plain JSON: the request log stores it as is)."""
    note: dict[str, Any] = {
        "sha256": image.sha256[:12],
        "bytes": len(image.data),
        "model": backend.spec if isinstance(backend, VisionBackend) else None,
        "cached": reading.cached,
        "ms": round(reading.ms, 1),
    }
    if from_tool:
        note["tool_output"] = True
    if reading.error is not None:
        note["error"] = reading.error
    if reading.saved is not None:
        note["saved"] = str(reading.saved)
    return note


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def _scrubbed(message: str, secret: str) -> str:
    # Vendors echo a rejected key in their error text, and this text goes into the model's context.
    return redact(message, (secret,)) if secret else message


def _shell_quote(path: str) -> str:
    return path if all(c.isalnum() or c in "/._-~" for c in path) else "'" + path.replace("'", "'\\''") + "'"
