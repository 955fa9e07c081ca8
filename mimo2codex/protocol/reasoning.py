"""The reasoning carrier: how upstream reasoning text survives a round trip through Codex.

Vendors in thinking mode require earlier turns' ``reasoning_content`` back (CONTRACT Part B), but
Codex only stores what we emit as a ``reasoning`` item and echoes it in the next request. We put the
text in the item's ``summary``/``content`` (shown to the user) *and* in ``encrypted_content``, which
Codex treats as opaque and always echoes (it sends ``include: ["reasoning.encrypted_content"]``). The
opaque copy keeps the text even when reasoning is hidden from the user.
"""

from __future__ import annotations

import base64
from typing import Any

from mimo2codex.protocol.profile import ReasoningReplay

_PREFIX = "m2c.v1:"


def seal(text: str) -> str:
    """The ``encrypted_content`` value carrying ``text``."""
    return _PREFIX + base64.b64encode(text.encode()).decode()


def unseal(value: object) -> str | None:
    """The text sealed by :func:`seal`, or None for anything else (e.g. OpenAI's real ciphertext)."""
    if not isinstance(value, str) or not value.startswith(_PREFIX):
        return None
    try:
        return base64.b64decode(value[len(_PREFIX) :], validate=True).decode()
    except ValueError:
        return None


def item_text(item: dict[str, Any]) -> str:
    """The reasoning text a ``reasoning`` input item carries, best source first."""
    sealed = unseal(item.get("encrypted_content"))
    if sealed is not None:
        return sealed
    for key, kinds in (("content", ("reasoning_text", "text")), ("summary", ("summary_text",))):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [
                p["text"]
                for p in parts
                if isinstance(p, dict) and p.get("type") in kinds and isinstance(p.get("text"), str)
            ]
            if texts:
                return "\n\n".join(texts) if key == "summary" else "".join(texts)
    return ""


def backfill(messages: list[dict[str, Any]], placeholder: str) -> int:
    """Give ``reasoning_content`` to every assistant message a thinking-mode vendor requires it on.

    DeepSeek's rule (thinking-mode guide, "工具调用"): between two user messages in which the model
    called tools, *every* assistant message -- the tool-calling ones and the closing answer -- must carry
    its reasoning in all later requests; where no tool was called it is optional and ignored. History
    written by a non-thinking model (``deepseek-chat`` before a switch to ``deepseek-v4-pro``) has none,
    so those messages get ``placeholder``. Blank reasoning counts as missing (vendors reject it alike).
    Mutates ``messages`` in place; returns how many messages were backfilled.
    """
    filled = 0
    start = 0
    for end in [*(i for i, m in enumerate(messages) if m.get("role") == "user"), len(messages)]:
        turn = [m for m in messages[start:end] if m.get("role") == "assistant"]
        start = end + 1
        if not any(m.get("tool_calls") for m in turn):
            continue
        for message in turn:
            text = message.get("reasoning_content")
            if not (isinstance(text, str) and text.strip()):
                message["reasoning_content"] = placeholder
                filled += 1
    return filled


def inline_think(messages: list[dict[str, Any]]) -> None:
    """Move each assistant message's ``reasoning_content`` into its ``content`` as ``<think>...</think>``.

    MiniMax M2 answers with its thinking inside ``content`` and asks for that content back verbatim in
    multi-turn tool use ("the content field will contain <think> tag content, which must be preserved
    completely"); the gateway splits the tags into a reasoning item for Codex, so this puts them back.
    """
    for message in messages:
        text = message.pop("reasoning_content", None) if message.get("role") == "assistant" else None
        if not (isinstance(text, str) and text.strip()):
            continue
        think = f"<think>\n{text}\n</think>\n\n"
        content = message.get("content")
        if isinstance(content, list):  # content parts: the thinking goes first, as its own text part
            message["content"] = [{"type": "text", "text": think}, *content]
        else:
            message["content"] = think + (content if isinstance(content, str) else "")


def replay(messages: list[dict[str, Any]], mode: ReasoningReplay, placeholder: str) -> int:
    """Apply the vendor's reasoning rule to an assembled chat history (translated Responses requests
    and chat passthrough alike); returns how many messages were backfilled."""
    if mode is ReasoningReplay.STRIP:
        for message in messages:
            message.pop("reasoning_content", None)
    elif mode is ReasoningReplay.REQUIRED:
        return backfill(messages, placeholder)
    elif mode is ReasoningReplay.INLINE:
        inline_think(messages)
    return 0
