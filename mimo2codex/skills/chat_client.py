"""Where ``ocr`` and ``chat`` send their Chat Completions request, and the request itself.

By default through the running gateway (its keys, routing, retries and request log): ``--gateway
URL``, else ``$MIMO2CODEX_URL``, else the address the settings say the gateway listens on. With
``--direct``, straight to the default provider (``--model PROVIDER`` picks another) with its own key
and its quirks applied (MiMo's thinking switch, its ``max_completion_tokens``...).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mimo2codex.protocol.sse import DONE, SSEDecoder, parse_chat_data
from mimo2codex.providers.base import Provider, WireApi
from mimo2codex.settings import Settings
from mimo2codex.skills.failure import MissingKey, ServiceError, UsageError
from mimo2codex.skills.http_client import HttpClient, HttpResponse

GATEWAY_ENV = "MIMO2CODEX_URL"
#: the vision model asked when nothing better is known (MiMo's, the default provider's)
FALLBACK_VISION_MODEL = "mimo-v2.5"


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("where the request goes")
    where.add_argument(
        "--gateway",
        metavar="URL",
        help=f"the running gateway (default ${GATEWAY_ENV}, else http://<--host>:<--port>)",
    )
    where.add_argument(
        "--direct",
        action="store_true",
        help="skip the gateway: call the default provider (or --model PROVIDER) with its own key",
    )


@dataclass(frozen=True, slots=True)
class ChatTarget:
    url: str
    headers: dict[str, str]
    #: for messages: "the gateway at http://..." or "provider mimo"
    label: str
    #: set with --direct: its quirks shape the body
    provider: Provider | None = None

    @property
    def via(self) -> str:
        return "direct" if self.provider is not None else "gateway"


def gateway_url(args: argparse.Namespace, settings: Settings) -> str:
    raw = args.gateway or os.environ.get(GATEWAY_ENV, "").strip() or settings.listen_url
    base = raw.rstrip("/")
    if "://" not in base:
        base = "http://" + base
    return base if base.endswith("/v1") else base + "/v1"


def resolve_target(args: argparse.Namespace, settings: Settings) -> ChatTarget:
    if not args.direct:
        base = gateway_url(args, settings)
        headers = {"Content-Type": "application/json"}
        if settings.auth_tokens:
            headers["Authorization"] = f"Bearer {settings.auth_tokens[0].reveal()}"
        return ChatTarget(f"{base}/chat/completions", headers, f"the gateway at {base.removesuffix('/v1')}")
    provider = settings.default
    if not provider.api_key:
        env = " or ".join(provider.endpoint.key_envs) if provider.endpoint else "its API key variable"
        raise MissingKey(f"--direct: provider {provider.id} has no API key; set {env} (or use the gateway)")
    if provider.wire_api is not WireApi.CHAT:
        raise UsageError(f"--direct: provider {provider.id} speaks the Responses API; use the gateway instead")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {provider.api_key.reveal()}"}
    return ChatTarget(f"{provider.base_url.rstrip('/')}/chat/completions", headers, f"provider {provider.id}", provider)


def _vision_models(provider: Provider) -> list[str]:
    return [m.id for m in provider.models if m.supports_images and not m.legacy]


def pick_vision_model(requested: str | None, target: ChatTarget, settings: Settings) -> str:
    """The model that reads images: the user's, else a vision model of the provider in use."""
    if requested:
        return requested
    configured = settings.vision_model  # --vision-model PROVIDER/MODEL: the gateway's own choice
    if configured and configured != "off":
        provider_id, _, model = configured.partition("/")
        if target.provider is None or target.provider.id == provider_id:
            return model
    if target.provider is not None:
        found = _vision_models(target.provider)
        if not found:
            raise UsageError(
                f"provider {target.provider.id} lists no vision model; name one with --ocr-model, "
                "or pick a provider that has one with --model"
            )
        return found[0]
    for provider in (settings.default, *settings.keyed_providers):
        found = _vision_models(provider)
        if found:
            return found[0]
    return FALLBACK_VISION_MODEL


def shape_body(body: dict[str, Any], target: ChatTarget) -> dict[str, Any]:
    """With --direct, the provider's quirks (the gateway applies them itself otherwise)."""
    if target.provider is None:
        return body
    profile = target.provider.profile(str(body["model"]))
    shaped = {k: v for k, v in body.items() if k not in profile.drop_fields}
    shaped["model"] = profile.model
    for key, value in profile.extra_body.items():
        shaped.setdefault(key, value)
    return shaped


def _error_text(answer: HttpResponse) -> str:
    payload = answer.json()
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return answer.text(300) or "(empty body)"


class ChatClient:
    def __init__(self, client: HttpClient, target: ChatTarget) -> None:
        self.client = client
        self.target = target

    def _with_hints(self, text: str) -> str:
        """With --direct, the provider's advice for errors it is known for (the gateway adds its own)."""
        if self.target.provider is None:
            return text
        hints = [h.hint for h in self.target.provider.quirks.error_hints if h.marker in text]
        return " ".join([text, *hints])

    def _unreachable_hint(self, exc: ServiceError) -> ServiceError:
        if self.target.provider is None:
            return ServiceError(
                f"{exc.message}. Is the gateway running? Start it with `mimo2codex`, point --gateway / "
                f"${GATEWAY_ENV} at it, or call the provider with --direct"
            )
        return exc

    def complete(self, body: dict[str, Any], *, on_delta: Callable[[str], None] | None = None) -> str:
        """The assistant's text; with ``on_delta`` the request streams and each piece is passed on."""
        body = shape_body(body, self.target)
        body["stream"] = on_delta is not None
        encoded = _encode(body)
        try:
            with self.client.open("POST", self.target.url, body=encoded, headers=self.target.headers) as (
                status,
                headers,
                chunks,
            ):
                if not 200 <= status < 300:
                    text = _error_text(HttpResponse(status, b"".join(chunks), headers))
                    raise ServiceError(f"{self.target.label} answered HTTP {status}: {self._with_hints(text)}")
                if on_delta is None:
                    return _message_text(HttpResponse(status, b"".join(chunks), headers), self.target.label)
                return _stream_text(chunks, on_delta, self.target.label)
        except ServiceError as exc:
            if exc.message.startswith("cannot reach"):
                raise self._unreachable_hint(exc) from exc
            raise


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _message_text(answer: HttpResponse, label: str) -> str:
    payload = answer.json()
    try:
        content = payload["choices"][0]["message"].get("content")
    except (TypeError, KeyError, IndexError, AttributeError):
        raise ServiceError(f"{label} sent something that is not a chat completion: {answer.text(200)}") from None
    if isinstance(content, list):  # some vendors answer with content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _stream_text(chunks: Any, on_delta: Callable[[str], None], label: str) -> str:
    decoder = SSEDecoder()
    pieces: list[str] = []
    finished = False

    def handle(data: str) -> None:
        nonlocal finished
        value = parse_chat_data(data)
        if value is DONE:
            finished = True
            return
        if not isinstance(value, dict):
            return
        error = value.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else error
            raise ServiceError(f"{label} failed mid-stream: {message}")
        for choice in value.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and text:
                pieces.append(text)
                on_delta(text)
            if isinstance(choice, dict) and choice.get("finish_reason"):
                finished = True

    for chunk in chunks:
        for event in decoder.feed(chunk):
            handle(event.data)
    for event in decoder.flush():
        handle(event.data)
    if not finished:
        raise ServiceError(f"{label} ended the stream before the answer was complete")
    return "".join(pieces)
