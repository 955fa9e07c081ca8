"""Context auto-compaction, the pure part: estimate, plan, summary request, splice.

When a translated chat request would not fit the routed model's context window, the oldest turns
are replaced by a summary the same model writes. The I/O shell (``mimo2codex/compactor.py``) runs
the steps and caches summaries by :attr:`CompactionPlan.key`::

    plan = plan_compaction(body, window, max_tokens_field=profile.max_tokens_field, cached=known_keys)
    if plan is not None:
        summary = known.get(plan.key) or summary_text(call(summary_request(plan, profile.model, ...)))
        body["messages"] = splice(plan, summary)

The history is cut only where a user turn starts, so a tool call never loses its output and a
thinking vendor's per-turn reasoning rule (CONTRACT Part B) still holds for what is kept.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson

#: A deliberately pessimistic tokenizer: English runs ~4 bytes a token, JSON and code ~3, CJK text
#: ~3 bytes (one character) a token. Overestimating only compacts a little early; underestimating
#: sends a request the vendor refuses.
BYTES_PER_TOKEN = 3
#: role markers and separators a chat template adds to every message
MESSAGE_TOKENS = 4
#: what an image costs in the estimate (its data URL's bytes say nothing about its tokens)
IMAGE_TOKENS = 1_000
#: the most a summary may take; small windows get less (an eighth of the window)
SUMMARY_TOKENS = 4_000
#: after compacting, the kept turns fill at most this share of the budget, so the next turns reuse
#: the same cut (and its cached summary) instead of summarising again at once
TARGET_SHARE = 0.6

SUMMARY_INSTRUCTIONS = (
    "You are compacting the early part of a conversation between a user and a coding agent so the agent "
    "can continue without it. Write a concise summary that keeps: the user's goals and constraints, "
    "decisions taken, files and commands involved with their important results, errors met and how they "
    "were solved, and anything still pending. Do not address the user; write only the summary."
)
SUMMARY_HEADER = "Summary of the earlier part of this conversation (compacted by mimo2codex to fit the context window):"

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CompactionPlan:
    """Where to cut: ``head`` (leading system messages) + summary of ``prefix`` + ``tail``."""

    head: list[dict[str, Any]]
    prefix: list[dict[str, Any]]
    tail: list[dict[str, Any]]
    #: identifies ``prefix``: the summary cache key
    key: str
    #: estimated prompt tokens before, and the most the upstream prompt may take
    estimate: int
    budget: int
    #: the summary's share of the budget (max tokens of the summary request)
    summary_tokens: int
    #: a shorter prefix whose summary is cached: the new summary extends it instead of re-reading
    #: those messages (None: summarise ``prefix`` from the start)
    base_key: str | None = None
    #: how many messages of ``prefix`` that cached summary covers
    base_length: int = 0


def estimate_tokens(body: dict[str, Any]) -> int:
    """A conservative token count of a chat request's prompt (messages and tool schemas)."""
    messages = body.get("messages")
    total = sum(_message_tokens(m) for m in messages if isinstance(m, dict)) if isinstance(messages, list) else 0
    tools = body.get("tools")
    if tools:
        total += _bytes_tokens(len(orjson.dumps(tools)))
    return total


def prompt_budget(body: dict[str, Any], window: int, *, max_tokens_field: str) -> int:
    """The prompt tokens ``window`` leaves after the answer's share (the request's max tokens, else 1/8)."""
    wanted = body.get(max_tokens_field)
    reserve = wanted if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted > 0 else window // 8
    return max(0, window - reserve)


def plan_compaction(
    body: dict[str, Any], window: int, *, max_tokens_field: str, cached: Collection[str] = ()
) -> CompactionPlan | None:
    """How to shrink ``body`` below the window, or None when it fits (or when no cut can make it fit).

    A cut whose summary is in ``cached`` and that fits is taken first; otherwise the earliest cut that
    brings the kept turns under :data:`TARGET_SHARE` of the budget, else the earliest that fits at all.
    """
    budget = prompt_budget(body, window, max_tokens_field=max_tokens_field)
    estimate = estimate_tokens(body)
    messages = body.get("messages")
    if estimate <= budget or not isinstance(messages, list):
        return None
    start = 0
    while start < len(messages) and isinstance(messages[start], dict) and messages[start].get("role") == "system":
        start += 1
    head = messages[:start]
    summary_tokens = min(SUMMARY_TOKENS, window // 8)
    fixed = estimate_tokens({"messages": head, "tools": body.get("tools")}) + summary_tokens + MESSAGE_TOKENS
    cuts = [i for i in range(start + 1, len(messages)) if _is_user(messages[i])]
    # Tail sizes from the end: each cut's kept tokens without re-estimating the whole tail.
    kept: dict[int, int] = {}
    running = 0
    following = len(messages)
    for cut in reversed(cuts):
        running += sum(_message_tokens(m) for m in messages[cut:following] if isinstance(m, dict))
        following = cut
        kept[cut] = fixed + running
    fitting = [cut for cut in cuts if kept[cut] <= budget]
    if not fitting:
        return None
    chosen = next((cut for cut in fitting if prefix_key(messages[start:cut]) in cached), None)
    if chosen is None:
        roomy = [cut for cut in fitting if kept[cut] <= budget * TARGET_SHARE]
        chosen = roomy[0] if roomy else fitting[0]
    prefix = messages[start:chosen]
    key = prefix_key(prefix)
    base_key, base_length = None, 0
    if key not in cached:
        # The latest earlier cut with a cached summary: the session's previous compaction.
        for cut in reversed([c for c in cuts if c < chosen]):
            earlier = prefix_key(messages[start:cut])
            if earlier in cached:
                base_key, base_length = earlier, cut - start
                break
    return CompactionPlan(
        head=head,
        prefix=prefix,
        tail=messages[chosen:],
        key=key,
        estimate=estimate,
        budget=budget,
        summary_tokens=summary_tokens,
        base_key=base_key,
        base_length=base_length,
    )


def prefix_key(prefix: list[Any]) -> str:
    """The cache key of a run of messages (their canonical JSON's SHA-256)."""
    return hashlib.sha256(orjson.dumps(prefix, option=orjson.OPT_SORT_KEYS)).hexdigest()


def summary_request(
    plan: CompactionPlan, model: str, *, max_tokens_field: str, earlier: str | None = None
) -> dict[str, Any]:
    """The chat request asking ``model`` for the summary of ``plan.prefix`` (images left out).

    ``earlier`` is the cached summary of the first ``plan.base_length`` messages: it stands in for
    them. The transcript is clipped to what the budget leaves, keeping its start and recent end.
    """
    instructions = {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    room = plan.budget - plan.summary_tokens - _message_tokens(instructions) - 2 * MESSAGE_TOKENS
    if earlier is not None:
        transcript = f"[summary of the conversation before]\n{earlier}\n\n" + render_transcript(
            plan.prefix[plan.base_length :]
        )
    else:
        transcript = render_transcript(plan.prefix)
    limit = max(0, room) * BYTES_PER_TOKEN
    escaped = len(orjson.dumps(transcript))  # what the estimate counts: JSON escapes included
    if escaped > limit:
        # Scaled by the escaping overhead, with a margin: clipping keeps a representative mix.
        transcript = _clip(transcript, int(len(transcript.encode()) * limit / escaped * 0.95))
    return {
        "model": model,
        "messages": [instructions, {"role": "user", "content": transcript}],
        max_tokens_field: plan.summary_tokens,
        "stream": False,
    }


def render_transcript(messages: list[dict[str, Any]]) -> str:
    """The messages as plain text for the summariser: roles, text, tool calls and tool results."""
    lines: list[str] = []
    for message in messages:
        role = str(message.get("role", "?"))
        text = _text(message.get("content"))
        if role == "tool":
            lines.append(f"[tool result {message.get('tool_call_id', '')}]\n{text}")
            continue
        if text:
            lines.append(f"[{role}]\n{text}")
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                lines.append(f"[{role} called {function.get('name')}] {function.get('arguments', '')}")
    return "\n\n".join(lines)


def summary_text(completion: object) -> str | None:
    """The summary in a non-streamed chat completion (``<think>`` blocks removed), or None."""
    if not isinstance(completion, dict):
        return None
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        return None
    text = _THINK.sub("", content).strip()
    return text or None


def splice(plan: CompactionPlan, summary: str) -> list[dict[str, Any]]:
    """The shortened history: the system messages with the summary appended, then the kept turns."""
    note = f"{SUMMARY_HEADER}\n\n{summary}"
    head = [dict(m) for m in plan.head]
    if head:
        last = head[-1]
        content = last.get("content")
        if isinstance(content, list):
            last["content"] = [*content, {"type": "text", "text": note}]
        else:
            last["content"] = f"{content or ''}\n\n{note}".lstrip()
    else:
        head.append({"role": "system", "content": note})
    return head + plan.tail


def _is_user(message: object) -> bool:
    return isinstance(message, dict) and message.get("role") == "user"


def _bytes_tokens(size: int) -> int:
    return math.ceil(size / BYTES_PER_TOKEN)


def _message_tokens(message: dict[str, Any]) -> int:
    content = message.get("content")
    images = 0
    rest = message
    if isinstance(content, list):
        images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
        if images:
            parts = [p for p in content if not (isinstance(p, dict) and p.get("type") == "image_url")]
            rest = {**message, "content": parts}
    return MESSAGE_TOKENS + images * IMAGE_TOKENS + _bytes_tokens(len(orjson.dumps(rest)))


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_url":
            texts.append("[image]")
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)


def _clip(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    marker = "\n\n[... earlier conversation omitted ...]\n\n"
    keep = max(0, limit - len(marker))
    front = keep // 3
    head = data[:front].decode("utf-8", "ignore")
    tail = data[len(data) - (keep - front) :].decode("utf-8", "ignore")
    return f"{head}{marker}{tail}"
