"""``POST probe``: one tiny request to a provider's model through the gateway's own transport.

The request is built by the same translator as Codex's requests (so the provider's quirks apply: MiMo's
thinking switch, the max-tokens field name...) and sent with the gateway's transport, proxy settings and
timeouts, without retries. The answer is the latency, a sample of the text, or the exact error the
upstream gave (its key scrubbed). It is not a client request: it is not written to the request log.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.runtime import provider_or_404
from mimo2codex.admin.spec import BOOL, INT, NUM, STR, ApiRoute, nullable, obj
from mimo2codex.errors import GatewayError, InvalidRequest
from mimo2codex.http_body import json_response, read_json_object
from mimo2codex.protocol.request import responses_to_chat
from mimo2codex.providers.base import Provider, WireApi
from mimo2codex.redaction import redact
from mimo2codex.responses_api import upstream_failure
from mimo2codex.routing import Route
from mimo2codex.upstream import UpstreamRequest

DEFAULT_PROMPT = "Reply with the single word: pong"
MAX_OUTPUT_TOKENS = 32
SAMPLE_CHARS = 200


def _body(provider: Provider, model: str, prompt: str) -> tuple[str, bytes]:
    request: dict[str, Any] = {"model": model, "input": prompt, "max_output_tokens": MAX_OUTPUT_TOKENS}
    if provider.wire_api is WireApi.RESPONSES:
        return "/responses", orjson.dumps({**request, "stream": False})
    chat = responses_to_chat(request, provider.profile(model))
    chat.body["stream"] = False
    return "/chat/completions", orjson.dumps(chat.body)


def _sample(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    for choice in payload.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            text = message.get("content") or message.get("reasoning_content") or ""
            if text:
                return str(text)
    for item in payload.get("output") or []:
        for part in (item.get("content") or []) if isinstance(item, dict) else []:
            if isinstance(part, dict) and part.get("text"):
                return str(part["text"])
    return ""


async def probe(ctx: AdminContext, request: Request) -> Response:
    body = await read_json_object(request, 16 * 1024)
    provider_id = body.get("provider")
    if not isinstance(provider_id, str) or not provider_id.strip():
        raise InvalidRequest("provider required: the id of the provider to probe", param="provider")
    provider = provider_or_404(ctx.settings, provider_id.strip())
    model = body.get("model") or provider.default_model
    prompt = body.get("prompt") or DEFAULT_PROMPT
    if not isinstance(model, str) or not isinstance(prompt, str) or len(prompt) > 2000 or len(model) > 200:
        raise InvalidRequest("model and prompt must be short texts", param="model")
    result: dict[str, Any] = {"ok": False, "provider": provider.id, "model": model, "status": None}
    if not provider.api_key:
        env = provider.env_key or "its API key variable"
        result["error"] = {"message": f"provider '{provider.id}' has no API key (set {env})", "code": "no_key"}
        return json_response(result)
    path, payload = _body(provider, model, prompt)
    started = time.perf_counter()
    route = Route(provider, model, model)
    try:
        upstream = await ctx.gateway.transport.open(UpstreamRequest(provider, path, payload, False))
        result["status"] = upstream.status
        if upstream.status >= 400:
            raise await upstream_failure(upstream, route)
        raw = await upstream.read()
        upstream.close()
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            result["error"] = {
                "message": f"the upstream answered with a body that is not JSON: {raw[:120]!r}",
                "code": "invalid_response",
            }
            return json_response(result)
        result.update(ok=True, sample=redact(_sample(answer)[:SAMPLE_CHARS], (provider.api_key.reveal(),)))
        usage = answer.get("usage") if isinstance(answer, dict) else None
        result["usage"] = usage if isinstance(usage, dict) else None
    except GatewayError as exc:
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        result["error"] = {
            "message": redact(exc.message, (provider.api_key.reveal(),)),
            "code": exc.code,
            "status": exc.status_code,
        }
    return json_response(result)


ROUTES = (
    ApiRoute(
        "POST",
        "/probe",
        probe,
        "Send one tiny request to a provider's model: latency and a sample answer, or the exact error",
        "providers",
        body=obj(
            {
                "provider": {"type": "string", "minLength": 1, "maxLength": 200},
                "model": {"type": "string", "maxLength": 200},
                "prompt": {"type": "string", "maxLength": 2000},
            },
            "provider",
        ),
        responses={
            200: obj(
                {
                    "ok": BOOL,
                    "provider": STR,
                    "model": STR,
                    "status": nullable(INT),
                    "latency_ms": NUM,
                    "sample": STR,
                    "usage": nullable({"type": "object"}),
                    "error": obj({"message": STR, "code": nullable(STR), "status": INT}, "message"),
                },
                "ok",
                "provider",
                "model",
            )
        },
    ),
)
