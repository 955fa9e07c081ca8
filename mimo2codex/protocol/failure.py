"""Upstream failures: what a vendor's error answer means for Codex.

Vendors phrase the same failure a dozen ways ("maximum context length", "Range of input length should
be", "exceeded model token limit"...), and Codex reacts only to a handful of error codes (CONTRACT
§1.6, §1.7): a context overflow must say ``context_length_exceeded`` or Codex retries a request that
can never fit, and a 429 must carry its delay or Codex gives up at once. :func:`classify_upstream_failure`
reads the vendor's answer; :func:`to_error` turns the result into the gateway's exception::

    failure = classify_upstream_failure(resp.status, body, retry_after=resp.headers.get("retry-after"), now=now)
    raise to_error(failure, "deepseek")
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

import orjson

from mimo2codex.errors import (
    ContextLengthExceeded,
    GatewayError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)

#: Delay suggested for a 429 that names none (Codex gives up on a 429 without Retry-After).
DEFAULT_RETRY_AFTER = 5.0
#: What a user can do about a context overflow: Codex does not compact on its own after this error.
COMPACT_ADVICE = "Run /compact in Codex to summarise the conversation, or start a new session with /new."
_MAX_MESSAGE = 500


class FailureKind(Enum):
    CONTEXT_LENGTH = "context_length"
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    AUTH = "auth"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


#: ``response.failed`` codes, chosen for how Codex treats them (CONTRACT §1.6): ``invalid_prompt`` is
#: the one generic code Codex treats as fatal while showing our message; ``server_error`` is retried.
_CODES: dict[FailureKind, str] = {
    FailureKind.CONTEXT_LENGTH: "context_length_exceeded",
    FailureKind.RATE_LIMIT: "rate_limit_exceeded",
    FailureKind.QUOTA: "insufficient_quota",
    FailureKind.AUTH: "invalid_prompt",
    FailureKind.REJECTED: "invalid_prompt",
    FailureKind.UNAVAILABLE: "server_error",
}


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    kind: FailureKind
    #: the upstream's HTTP status; 0 for an error inside a stream that had answered 200
    status: int
    #: the vendor's own message, cleaned up and shortened
    message: str
    #: the vendor's error code or type, when it gave one (for logs)
    vendor_code: str | None = None
    #: seconds to wait before retrying; always set for RATE_LIMIT
    retry_after: float | None = None

    @property
    def code(self) -> str:
        """The ``response.failed`` error code for Codex."""
        return _CODES[self.kind]


# Phrases vendors use for a prompt that does not fit the context window. Matched against the
# extracted message and code only, never the raw body: validation errors can echo the prompt back.
_CONTEXT_PATTERNS = re.compile(
    "|".join(
        (
            r"context[_ ]length[_ ]exceeded",
            r"maximum context length",  # OpenAI, DeepSeek, vLLM, OpenRouter, Mistral
            r"context (?:window|length|size)[^.]{0,40}(?:exceed|too long|too large|limit)",
            r"(?:exceed|too long for|too large for)[^.]{0,40}context (?:window|length|size)",
            r"exceed_context_size",  # llama.cpp server
            r"range of input length should be",  # Qwen / DashScope
            r"model token limit",  # Kimi: "exceeded model token limit"
            r"exceed\w*[^.]{0,40}token limit|token limit[^.]{0,40}exceed",
            r"prompt is too long|prompt too long|input is too long|input too long",
            r"maximum model length|max_model_len|is too long and exceeds limit",  # vLLM
            r"reduce the length of the messages",
            r"input token count[^.]{0,40}exceeds",  # Gemini
            r"tokens \+ `?max_new_tokens`? must be <=",  # TGI
            r"too many (?:input )?tokens",
            r"上下文长度|超过最大长度|prompt ?超长|输入超长|输入长度超",  # GLM 1261, Chinese vendors
            r"prompt exceeds max length",  # GLM (code 1261)
            r"must be less than max_seq_len",  # SiliconFlow (code 20015)
            r"when context the overflows|context length of only|reached context length of",  # LM Studio
            r"^token limit 1039$",  # MiniMax base_resp {"status_code": 1039, "status_msg": "token limit"}
        )
    )
)

# Not "billing": OpenAI's ordinary rate-limit message links to the billing page.
_QUOTA_PATTERNS = re.compile(
    r"insufficient[_ ]quota|insufficient[_ ]balance|insufficient credits|exceeded_current_quota"
    r"|credit_balance_exhausted|spend_limit_exceeded|arrearage|payment required|account balance"
    r"|余额不足|欠费"
)

_RATE_PATTERNS = re.compile(r"rate[_ ]limit|too many requests|throttl|请求过于频繁|频率")

_TRY_AGAIN = re.compile(
    r"(?:try again|retry) (?:in|after)\s*((?:\d+(?:\.\d+)?\s*(?:ms|milliseconds?|h|hours?|m(?![a-z])|minutes?|s|seconds?)\s*)+)",
    re.IGNORECASE,
)
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|milliseconds?|h|hours?|m(?![a-z])|minutes?|s|seconds?)", re.IGNORECASE
)
_UNIT_SECONDS = {"ms": 0.001, "h": 3600.0, "m": 60.0, "s": 1.0}

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def classify_upstream_failure(
    status: int,
    body: bytes | str | dict[str, Any] | None,
    *,
    retry_after: str | None = None,
    retry_after_ms: str | None = None,
    now: float | None = None,
) -> UpstreamFailure:
    """What an upstream error answer means.

    ``status`` is the HTTP status (0 for an ``{"error": ...}`` chunk inside a 200 stream);
    ``retry_after``/``retry_after_ms`` are the response headers of those names; ``now`` (unix
    seconds) is needed only to read an HTTP-date ``Retry-After``.
    """
    parsed = _parse_body(body)
    message, vendor_code, body_status, body_retry = _extract(parsed)
    if status == 0 and body_status is not None:
        status = body_status
    if not message:
        message = f"HTTP {status}" if status else "unknown upstream error"
    haystack = f"{message} {vendor_code or ''}".lower()

    def failure(kind: FailureKind, delay: float | None = None) -> UpstreamFailure:
        return UpstreamFailure(kind, status, message, vendor_code, delay)

    if status == 402 or _QUOTA_PATTERNS.search(haystack):
        return failure(FailureKind.QUOTA)
    if status == 429 or (status == 0 and _RATE_PATTERNS.search(haystack)):
        delay = _retry_delay(retry_after, retry_after_ms, now, message, body_retry)
        return failure(FailureKind.RATE_LIMIT, DEFAULT_RETRY_AFTER if delay is None else delay)
    if status in (401, 403):
        return failure(FailureKind.AUTH)
    if _CONTEXT_PATTERNS.search(haystack):
        return failure(FailureKind.CONTEXT_LENGTH)
    # 408/409/425 are transient by definition; every other 4xx will fail again when repeated.
    if 400 <= status < 500 and status not in (408, 409, 425):
        return failure(FailureKind.REJECTED)
    return failure(FailureKind.UNAVAILABLE)


def is_error_body(body: object) -> bool:
    """True for a JSON answer (or stream chunk) that reports an error instead of a completion:
    ``{"error": ...}``, vLLM's ``{"object": "error"}``, SiliconFlow's bare ``{"code": 20015, "message": ...}``
    (no ``choices``), or MiniMax's non-zero ``base_resp.status_code`` (also inside an HTTP 200 answer)."""
    if not isinstance(body, dict):
        return False
    if body.get("error") or body.get("object") == "error":
        return True
    if "choices" not in body and isinstance(body.get("message"), str) and body.get("code") not in (None, 0, 200, "0"):
        return True
    base = body.get("base_resp")
    return isinstance(base, dict) and base.get("status_code") not in (None, 0)


def to_error(failure: UpstreamFailure, provider: str) -> GatewayError:
    """The gateway exception for ``failure``; its status and code are what Codex should see.

    Auth failures and rejections go to Codex as 400 (fatal, message shown) rather than the vendor's
    401/404, which Codex would retry ``stream_max_retries`` times to the same result (CONTRACT §1.7).
    """
    who = f"upstream provider {provider}" if provider else "the upstream provider"
    subject = who[0].upper() + who[1:]
    status = f"HTTP {failure.status}: " if failure.status else ""
    detail = f"{status}{failure.message}"
    code = failure.code
    if failure.kind is FailureKind.CONTEXT_LENGTH:
        return ContextLengthExceeded(
            f"The conversation no longer fits the context window of {who} ({detail}). {COMPACT_ADVICE}",
            provider=provider,
            code=code,
            upstream_status=failure.status or None,
        )
    if failure.kind is FailureKind.RATE_LIMIT:
        return UpstreamRateLimited(
            f"{subject} is rate limiting requests ({detail}).",
            retry_after=DEFAULT_RETRY_AFTER if failure.retry_after is None else failure.retry_after,
            provider=provider,
            code=code,
        )
    if failure.kind is FailureKind.QUOTA:
        return UpstreamRejected(
            f"{subject} reports the account is out of quota or balance ({detail}). Top up or check billing.",
            provider=provider,
            code=code,
            upstream_status=429,
        )
    if failure.kind is FailureKind.AUTH:
        return UpstreamRejected(
            f"{subject} refused the API key ({detail}). Check your API key for {provider or 'the upstream'}.",
            provider=provider,
            code=code,
            upstream_status=400,
        )
    if failure.kind is FailureKind.REJECTED:
        return UpstreamRejected(
            f"{subject} rejected the request ({detail}).", provider=provider, code=code, upstream_status=400
        )
    return UpstreamUnavailable(
        f"{subject} failed ({detail}).", provider=provider, code=code, upstream_status=failure.status or None
    )


def _parse_body(body: bytes | str | dict[str, Any] | None) -> dict[str, Any] | str:
    if body is None:
        return ""
    if isinstance(body, dict):
        return body
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return stripped
        if isinstance(value, dict):
            return value
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return value[0]  # Gemini-style bodies are a one-element list
    return stripped


def _extract(body: dict[str, Any] | str) -> tuple[str, str | None, int | None, float | None]:
    """(message, vendor code, status named in the body, retry delay named in the body)."""
    if isinstance(body, str):
        return _text_message(body), None, None, None
    error = body.get("error")
    holder: dict[str, Any] = error if isinstance(error, dict) else body
    message: Any = holder.get("message")
    if not isinstance(message, str) or not message:
        candidates = (
            error if isinstance(error, str) else None,
            holder.get("msg"),
            holder.get("error_msg"),
            holder.get("detail"),
            body.get("message"),
            body.get("detail"),
            (body.get("base_resp") or {}).get("status_msg") if isinstance(body.get("base_resp"), dict) else None,
        )
        message = next((c for c in candidates if c), "")
    if isinstance(message, list):  # FastAPI validation errors: [{"loc": [...], "msg": "..."}]
        message = "; ".join(str(m.get("msg", m)) if isinstance(m, dict) else str(m) for m in message)
    elif not isinstance(message, str):
        message = orjson.dumps(message).decode()
    if message.lstrip().startswith("{"):  # a proxy wrapping the vendor's JSON error as a string
        inner = _parse_body(message)
        if isinstance(inner, dict):
            inner_message, inner_code, _, _ = _extract(inner)
            if inner_message:
                message = inner_message
                if inner_code and not _string_code(holder):
                    holder = {**holder, "code": inner_code}
    status: int | None = None
    for key in ("status", "code", "status_code"):
        value = holder.get(key)
        if isinstance(value, str) and value.isascii() and value.isdigit():  # not "²": isdigit() but no int
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
            status = value
            break
    retry = holder.get("retry_after")
    delay = _finite(str(retry)) if isinstance(retry, int | float) and not isinstance(retry, bool) else None
    if delay is not None and delay < 0:
        delay = None
    code = _string_code(holder)
    base = body.get("base_resp")
    if code is None and isinstance(base, dict) and base.get("status_code") not in (None, 0):
        code = str(base.get("status_code"))  # MiniMax: 1039 token limit, 2013 invalid params, ...
    return _shorten(message), code, status, delay


def _string_code(holder: dict[str, Any]) -> str | None:
    parts = [str(holder[k]) for k in ("code", "type") if isinstance(holder.get(k), str | int) and holder.get(k) != ""]
    return " ".join(parts) if parts else None


def _text_message(text: str) -> str:
    if "<" in text and ">" in text:
        title = _TITLE.search(text)
        if title and title.group(1).strip():
            return _shorten(html.unescape(title.group(1)))
        text = html.unescape(_TAG.sub(" ", text))
    return _shorten(text)


def _shorten(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _retry_delay(
    header: str | None, header_ms: str | None, now: float | None, message: str, body_retry: float | None
) -> float | None:
    # Upstream headers are untrusted text: "inf", "nan" and "1e999" parse as floats but are no delay.
    if header:
        value = header.strip()
        seconds = _finite(value)
        if seconds is not None:
            return max(0.0, seconds)
        if now is not None:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None and when.tzinfo is not None:
                return max(0.0, when.timestamp() - now)
    if header_ms:
        millis = _finite(header_ms.strip())
        if millis is not None:
            return max(0.0, millis / 1000)
    found = _TRY_AGAIN.search(message)
    if found:
        total = 0.0
        for number, unit in _DURATION_PART.findall(found.group(1)):
            total += float(number) * _UNIT_SECONDS[_unit(unit)]
        if math.isfinite(total):
            return total
    return body_retry


def _finite(text: str) -> float | None:
    """``text`` as a finite float, else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _unit(unit: str) -> str:
    unit = unit.lower()
    if unit.startswith("ms") or unit.startswith("milli"):
        return "ms"
    return unit[0]
