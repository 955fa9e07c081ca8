"""Context overflow per vendor preset: each vendor's real "too long" answer becomes Codex's
``context_length_exceeded`` with the advice to run ``/compact``, and look-alike errors do not.

The vendors' answer shapes are those the strict fake sends in each vendor's mode (one source of truth,
with the sources in docs/vendors.md): an HTTP 4xx body, an HTTP 200 body (LM Studio, MiniMax), or an
error chunk inside the stream (MiniMax).
"""

from __future__ import annotations

from typing import Any

import pytest

from mimo2codex.errors import ContextLengthExceeded
from mimo2codex.protocol.context import ResponseContext
from mimo2codex.protocol.failure import (
    COMPACT_ADVICE,
    FailureKind,
    classify_upstream_failure,
    is_error_body,
    to_error,
)
from mimo2codex.protocol.stream import StreamTranslator
from tests.fakes.strict_upstream import VendorRules

MODES = {
    name: getattr(VendorRules, name)()
    for name in ("kimi", "glm", "qwen", "minimax", "siliconflow", "openrouter", "ark", "vllm", "lmstudio")
}


def overflow_body(rules: VendorRules) -> Any:
    assert rules.overflow is not None
    return rules.overflow.render(262_144, 270_001)


@pytest.mark.parametrize("vendor", list(MODES))
def test_each_vendors_overflow_before_the_stream_is_context_length_exceeded(vendor: str) -> None:
    rules = MODES[vendor]
    assert rules.overflow is not None
    body = overflow_body(rules)
    # a 200 answer carries its error in the body: the gateway classifies those with status 0
    status = rules.overflow.status if rules.overflow.status >= 400 else 0
    assert is_error_body(body) or status >= 400
    failure = classify_upstream_failure(status, body)
    assert failure.kind is FailureKind.CONTEXT_LENGTH, failure
    error = to_error(failure, vendor)
    assert isinstance(error, ContextLengthExceeded)
    assert error.status_code == 400
    assert error.code == "context_length_exceeded"
    assert "/compact" in error.message
    assert failure.message in error.message  # the vendor's own words stay visible


@pytest.mark.parametrize("vendor", list(MODES))
def test_each_vendors_overflow_inside_the_stream_fails_the_response(vendor: str) -> None:
    translator = translator_for(vendor)
    events = translator.start()
    events += translator.feed({"choices": [{"index": 0, "delta": {"content": "partial"}}]})
    events += translator.feed(overflow_body(MODES[vendor]))
    failed = events[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["code"] == "context_length_exceeded"
    assert COMPACT_ADVICE in failed["response"]["error"]["message"]
    assert translator.finish() == []


def translator_for(vendor: str) -> StreamTranslator:
    return StreamTranslator(ResponseContext("resp_1", 1_700_000_000, f"{vendor}-model"), provider=vendor)


def test_a_context_full_finish_reason_also_advises_compact() -> None:
    translator = translator_for("kimi")
    translator.start()
    chunk = {"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "model_context_window_exceeded"}]}
    translator.feed(chunk)
    failed = translator.finish()[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["code"] == "context_length_exceeded"
    assert COMPACT_ADVICE in failed["response"]["error"]["message"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # Ark rejects a too-large max_tokens: shrinking the history would not help (hermes-agent #51773)
        (400, {"error": {"code": "InvalidParameter", "message": "max_tokens should be less than or equal to 12288"}}),
        # Kimi's missing-reasoning 400 is a request shape problem, not an overflow
        (
            400,
            {
                "error": {
                    "message": "thinking is enabled but reasoning_content is missing in assistant tool call "
                    "message at index 7",
                    "type": "invalid_request_error",
                }
            },
        ),
        # MiniMax's rate limit in base_resp
        (0, {"base_resp": {"status_code": 1002, "status_msg": "rate limit exceeded(RPM)"}}),
        # a healthy MiniMax answer also has base_resp, with status 0
        (200, {"choices": [], "base_resp": {"status_code": 0, "status_msg": ""}}),
    ],
)
def test_look_alikes_are_not_overflows(status: int, body: dict[str, Any]) -> None:
    failure = classify_upstream_failure(status, body)
    assert failure.kind is not FailureKind.CONTEXT_LENGTH


def test_error_bodies() -> None:
    assert is_error_body({"error": "Trying to keep the first 10 tokens when context the overflows."})
    assert is_error_body({"object": "error", "message": "x"})
    assert is_error_body({"base_resp": {"status_code": 1039, "status_msg": "token limit"}})
    assert not is_error_body({"base_resp": {"status_code": 0, "status_msg": "success"}, "choices": []})
    assert not is_error_body({"choices": [], "error": None})
    assert not is_error_body(["error"])
    legacy = classify_upstream_failure(0, {"base_resp": {"status_code": 1039, "status_msg": "token limit"}})
    assert (legacy.kind, legacy.vendor_code) == (FailureKind.CONTEXT_LENGTH, "1039")
