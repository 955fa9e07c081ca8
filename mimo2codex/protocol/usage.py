"""Token usage: a Chat ``usage`` object -> the Responses ``usage`` Codex and the SDK require (§1.4).

Vendors report the same counts under different names and sometimes as floats or nulls; the
Responses object wants every field present, as a non-negative whole number::

    response["usage"] = convert_usage(chunk["usage"])

The stream translator uses it for the Responses routes; the chat passthrough reads the cached and
reasoning counts through it too.
"""

from __future__ import annotations

import math
from typing import Any


def convert_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Chat ``usage`` -> Responses ``usage`` with every field Codex and the SDK require (§1.4).

    Cached tokens come from ``prompt_tokens_details.cached_tokens`` (OpenAI, Qwen, GLM), DeepSeek's
    ``prompt_cache_hit_tokens`` or Kimi's top-level ``cached_tokens``.
    """
    prompt = whole_number(usage.get("prompt_tokens"))
    completion = whole_number(usage.get("completion_tokens"))
    total = whole_number(usage.get("total_tokens")) or prompt + completion
    prompt_details = usage.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = usage.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    cached = (
        whole_number(prompt_details.get("cached_tokens"))
        or whole_number(usage.get("prompt_cache_hit_tokens"))
        or whole_number(usage.get("cached_tokens"))
    )
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": cached,
            "cache_write_tokens": whole_number(prompt_details.get("cache_write_tokens")),
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": whole_number(completion_details.get("reasoning_tokens"))},
        "total_tokens": total,
    }


def whole_number(value: object) -> int:
    """An upstream count as a non-negative int: floats truncated; 0 for anything not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return max(0, int(value))
