"""classify_upstream_failure and to_error: vendor error answers -> what Codex should see."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import orjson
import pytest

from mimo2codex.errors import ContextLengthExceeded, UpstreamRateLimited, UpstreamRejected, UpstreamUnavailable
from mimo2codex.protocol.failure import (
    DEFAULT_RETRY_AFTER,
    FailureKind,
    UpstreamFailure,
    classify_upstream_failure,
    to_error,
)

CONTEXT_OVERFLOWS: list[tuple[str, int, Any]] = [
    (
        "openai code",
        400,
        {"error": {"message": "Input too large", "type": "invalid_request_error", "code": "context_length_exceeded"}},
    ),
    (
        "deepseek",
        400,
        {
            "error": {
                "message": "This model's maximum context length is 131072 tokens. However, you "
                "requested 140000 tokens (139000 in the messages, 1000 in the completion).",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
    ),
    (
        "qwen",
        400,
        {
            "error": {
                "code": "invalid_parameter_error",
                "message": "<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 129024]",
            }
        },
    ),
    ("glm code 1261", 400, {"error": {"code": "1261", "message": "Prompt 超长"}}),
    (
        "kimi",
        400,
        {
            "error": {
                "message": "Invalid request: Your request exceeded model token limit: 262144 (requested: 270001)",
                "type": "invalid_request_error",
            }
        },
    ),
    (
        "vllm old",
        400,
        {
            "object": "error",
            "message": "This model's maximum context length is 32768 tokens. However, "
            "you requested 40000 tokens in the messages.",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        },
    ),
    (
        "vllm new",
        400,
        {
            "error": {
                "message": "The decoder prompt (length 40000) is longer than the maximum model "
                "length of 32768. Make sure that `max_model_len` is no smaller than the "
                "number of text tokens.",
                "type": "BadRequestError",
                "code": 400,
            }
        },
    ),
    ("ollama", 400, {"error": "input length exceeds the context length"}),
    (
        "llama.cpp",
        400,
        {
            "error": {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
            }
        },
    ),
    (
        "anthropic-like",
        400,
        {"error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}},
    ),
    ("minimax", 200, {"base_resp": {"status_code": 1039, "status_msg": "context window exceeds limit"}}),
    (
        "gemini list body",
        400,
        orjson.dumps(
            [
                {
                    "error": {
                        "code": 400,
                        "message": "The input token count (1200000) exceeds the "
                        "maximum number of tokens allowed (1048576).",
                        "status": "INVALID_ARGUMENT",
                    }
                }
            ]
        ),
    ),
    (
        "tgi",
        422,
        {
            "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 32768. Given: "
            "32000 `inputs` tokens and 1000 `max_new_tokens`",
            "error_type": "validation",
        },
    ),
    ("plain text 413", 413, "Request too long: too many tokens for this model"),
    ("mid-stream", 0, {"error": {"message": "This model's maximum context length is 65536 tokens."}}),
    ("server error text", 500, {"error": {"message": "maximum context length is 8192 tokens"}}),
]


@pytest.mark.parametrize(("vendor", "status", "body"), CONTEXT_OVERFLOWS, ids=[c[0] for c in CONTEXT_OVERFLOWS])
def test_context_overflow_across_vendors(vendor: str, status: int, body: Any) -> None:
    failure = classify_upstream_failure(status, body)
    assert failure.kind is FailureKind.CONTEXT_LENGTH, failure
    assert failure.code == "context_length_exceeded"


@pytest.mark.parametrize(
    "message",
    [
        "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
        "messages[3]: tool_call_id not found",
        "Unknown field: thinking",
    ],
)
def test_other_400s_are_rejections_not_overflows(message: str) -> None:
    failure = classify_upstream_failure(400, {"error": {"message": message}})
    assert failure.kind is FailureKind.REJECTED
    assert failure.code == "invalid_prompt"
    assert failure.message == message


def test_the_prompt_echoed_in_a_validation_error_is_not_read_as_an_overflow() -> None:
    body = {
        "detail": [
            {
                "loc": ["body", "messages"],
                "msg": "field required",
                "input": {"content": "why does context_length_exceeded happen?"},
            }
        ]
    }
    failure = classify_upstream_failure(422, body)
    assert failure.kind is FailureKind.REJECTED
    assert failure.message == "field required"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            429,
            {
                "error": {
                    "message": "You exceeded your current quota, please check your plan and billing details.",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
        ),
        (402, {"error": {"message": "Insufficient Balance", "type": "unknown_error"}}),
        (402, {"error": {"message": "Insufficient credits. Add more using https://openrouter.ai/credits"}}),
        (429, {"error": {"message": "Your account is suspended", "type": "exceeded_current_quota_error"}}),
        (400, {"code": "Arrearage", "message": "Access denied, please make sure your account is in good standing."}),
        (429, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}),
    ],
)
def test_insufficient_quota(status: int, body: dict[str, Any]) -> None:
    failure = classify_upstream_failure(status, body)
    assert failure.kind is FailureKind.QUOTA
    assert failure.code == "insufficient_quota"


def test_openai_rate_limit_mentioning_billing_is_still_a_rate_limit() -> None:
    body = {
        "error": {
            "message": "Rate limit reached for gpt-4 on tokens per min. Limit: 10000. Please try again in "
            "6ms. Visit https://platform.openai.com/account/billing to add a payment method.",
            "type": "tokens",
            "code": "rate_limit_exceeded",
        }
    }
    failure = classify_upstream_failure(429, body)
    assert failure.kind is FailureKind.RATE_LIMIT
    assert failure.retry_after == pytest.approx(0.006)


NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"retry_after": "12"}, "", 12.0),
        ({"retry_after": "1.5"}, "", 1.5),
        ({"retry_after": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)}, "", 30.0),
        ({"retry_after": format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True)}, "", 0.0),
        ({"retry_after_ms": "2500"}, "", 2.5),
        ({"retry_after": "soon", "retry_after_ms": "800"}, "", 0.8),
        ({}, {"error": {"message": "Rate limit reached. Please try again in 20s."}}, 20.0),
        ({}, {"error": {"message": "Please try again in 1.5 seconds"}}, 1.5),
        ({}, {"error": {"message": "Please try again in 6m0s"}}, 360.0),
        ({}, {"error": {"message": "try again in 120ms"}}, 0.12),
        ({}, {"error": {"message": "slow down", "retry_after": 7}}, 7.0),
        ({}, {"error": {"message": "Too Many Requests"}}, DEFAULT_RETRY_AFTER),
        ({}, "<html><title>429 Too Many Requests</title></html>", DEFAULT_RETRY_AFTER),
    ],
)
def test_rate_limit_delay(headers: dict[str, str], body: Any, expected: float) -> None:
    failure = classify_upstream_failure(429, body, now=NOW, **headers)
    assert failure.kind is FailureKind.RATE_LIMIT
    assert failure.code == "rate_limit_exceeded"
    assert failure.retry_after == pytest.approx(expected)


def test_http_date_needs_now() -> None:
    date = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    assert classify_upstream_failure(429, "", retry_after=date).retry_after == DEFAULT_RETRY_AFTER


def test_rate_limit_inside_a_stream_without_status() -> None:
    failure = classify_upstream_failure(0, {"error": {"message": "Request rate limit exceeded, try again in 3s"}})
    assert failure.kind is FailureKind.RATE_LIMIT
    assert failure.retry_after == 3.0


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures(status: int) -> None:
    failure = classify_upstream_failure(status, {"error": {"message": "Invalid API key", "code": "invalid_api_key"}})
    assert failure.kind is FailureKind.AUTH
    error = to_error(failure, "mimo")
    assert isinstance(error, UpstreamRejected)
    assert "check your api key for mimo" in error.message.lower()
    assert "Invalid API key" in error.message
    assert error.status_code == 400  # fatal at once in Codex, instead of stream_max_retries retries
    assert error.failed_code() == "invalid_prompt"  # fatal in a stream too (CONTRACT §1.6)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, FailureKind.UNAVAILABLE),
        (502, FailureKind.UNAVAILABLE),
        (503, FailureKind.UNAVAILABLE),
        (408, FailureKind.UNAVAILABLE),
        (409, FailureKind.UNAVAILABLE),
        (404, FailureKind.REJECTED),
        (422, FailureKind.REJECTED),
        (0, FailureKind.UNAVAILABLE),
    ],
)
def test_status_classes(status: int, kind: FailureKind) -> None:
    failure = classify_upstream_failure(status, {"error": {"message": "something"}})
    assert failure.kind is kind
    assert failure.code == ("server_error" if kind is FailureKind.UNAVAILABLE else "invalid_prompt")


@pytest.mark.parametrize(
    ("body", "message", "vendor_code"),
    [
        ({"error": {"message": "m1", "type": "t", "code": "c"}}, "m1", "c t"),
        ({"error": "m2"}, "m2", None),
        ({"message": "m3", "code": 1234}, "m3", "1234"),
        ({"detail": "m4"}, "m4", None),
        ({"msg": "m5", "code": "E1"}, "m5", "E1"),
        ({"error_msg": "m6", "error_code": 17}, "m6", None),
        ({"error": {"message": '{"error":{"message":"inner","code":"ctx"}}'}}, "inner", "ctx"),
        (b'{"error": {"message": "bytes body"}}', "bytes body", None),
        ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "502 Bad Gateway", None),
        ("<html><body><h1>Service   Unavailable</h1></body></html>", "Service Unavailable", None),
        ("plain   text\nbody", "plain text body", None),
        ("", "HTTP 503", None),
        (None, "HTTP 503", None),
    ],
)
def test_message_extraction(body: Any, message: str, vendor_code: str | None) -> None:
    failure = classify_upstream_failure(503, body)
    assert failure.message == message
    assert failure.vendor_code == vendor_code


def test_long_messages_are_shortened() -> None:
    failure = classify_upstream_failure(500, "x" * 5000)
    assert len(failure.message) == 500
    assert failure.message.endswith("…")


def test_status_from_the_body_of_a_stream_error() -> None:
    failure = classify_upstream_failure(0, {"error": {"message": "bad tool schema", "code": 400}})
    assert (failure.status, failure.kind) == (400, FailureKind.REJECTED)


def test_to_error_classes_statuses_and_codes() -> None:
    def make(kind: FailureKind, status: int, retry: float | None = None) -> UpstreamFailure:
        return UpstreamFailure(kind, status, "vendor says no", "x", retry)

    context = to_error(make(FailureKind.CONTEXT_LENGTH, 400), "deepseek")
    assert isinstance(context, ContextLengthExceeded)
    assert (context.status_code, context.failed_code()) == (400, "context_length_exceeded")
    assert context.to_body()["error"]["code"] == "context_length_exceeded"

    limited = to_error(make(FailureKind.RATE_LIMIT, 429, 2.2), "qwen")
    assert isinstance(limited, UpstreamRateLimited)
    assert limited.status_code == 429
    assert limited.headers() == {"Retry-After": "3"}
    assert "try again in 3s" in limited.message
    assert limited.failed_code() == "rate_limit_exceeded"

    quota = to_error(make(FailureKind.QUOTA, 402), "deepseek")
    assert isinstance(quota, UpstreamRejected)
    assert (quota.status_code, quota.failed_code()) == (429, "insufficient_quota")

    rejected = to_error(make(FailureKind.REJECTED, 404), "mimo")
    assert isinstance(rejected, UpstreamRejected)
    assert (rejected.status_code, rejected.failed_code()) == (400, "invalid_prompt")
    assert "vendor says no" in rejected.message
    assert "mimo" in rejected.message

    down = to_error(make(FailureKind.UNAVAILABLE, 503), "glm")
    assert isinstance(down, UpstreamUnavailable)
    assert (down.status_code, down.failed_code(), down.upstream_status) == (502, "server_error", 503)
    assert down.provider == "glm"


def test_to_error_without_a_provider_name() -> None:
    error = to_error(UpstreamFailure(FailureKind.UNAVAILABLE, 0, "overloaded"), "")
    assert error.message == "The upstream provider failed (overloaded)."
