"""Turns: the history's segments assembled into the chat ``messages`` strict vendors accept.

The history reader (``history.py``) leaves the system and user messages in order, a :class:`Turn`
for each assistant turn (its texts, reasoning and tool calls, from however many items Codex split it
into), and the tool answers apart, by call id. :func:`assemble` lays them out as CONTRACT Part B
requires::

    messages = assemble(segments, outputs, profile, notes)

- one system block: some chat templates accept only one leading system message;
- one assistant message per turn (text + ``reasoning_content`` + ``tool_calls``): DeepSeek V4 rejects
  two assistant messages in a row;
- each tool answer right after the assistant message that called it, a synthetic ``"aborted"``
  answer for a call that has none, and a tool answer's images in a user message after them;
- ``reasoning_content`` replayed, or backfilled, as the profile's reasoning rule says
  (``reasoning.py``).

What cannot be placed (a tool answer whose call is not in the history) is reported as a :class:`Note`.
"""

from __future__ import annotations

from typing import Any

from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.reasoning import replay

_ABORTED = "aborted"


class Turn:
    """The assistant side of one turn: merged into ONE chat assistant message (DeepSeek V4)."""

    __slots__ = ("calls", "reasoning", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[dict[str, Any]] = []


class ToolOutput:
    """A tool's answer, waiting to be placed right after the message that made the call."""

    __slots__ = ("images", "text", "where")

    def __init__(self, text: str, images: list[dict[str, Any]], where: str) -> None:
        self.text = text
        self.images = images
        self.where = where


#: a system or user chat message, or an assistant turn still to be assembled
Segment = dict[str, Any] | Turn


def assemble(
    segments: list[Segment], outputs: dict[str, ToolOutput], profile: UpstreamProfile, notes: list[Note]
) -> list[dict[str, Any]]:
    """The chat ``messages`` for ``segments``; ``outputs`` (call id -> answer) is emptied as they are placed."""
    messages: list[dict[str, Any]] = []
    for segment in _join_split_turns(segments):
        if not isinstance(segment, Turn):
            previous = messages[-1] if messages else None
            if segment["role"] == "system" and previous is not None and previous["role"] == "system":
                # One system block: some chat templates accept only one leading system message.
                messages[-1] = {"role": "system", "content": f"{previous['content']}\n\n{segment['content']}"}
            else:
                messages.append(segment)
            continue
        text = "\n\n".join(segment.texts)
        calls = segment.calls
        if not calls and not text:
            if segment.reasoning:
                notes.append(
                    Note(
                        "debug",
                        "dropped_item",
                        "reasoning",
                        "dropped reasoning of a turn that has no text or tool call",
                    )
                )
            continue
        message: dict[str, Any] = {"role": "assistant", "content": text}
        reasoning = "\n\n".join(segment.reasoning)
        if reasoning.strip():  # thinking-mode vendors reject blank reasoning like a missing one
            message["reasoning_content"] = reasoning
        if not calls:
            messages.append(message)
            continue
        message["tool_calls"] = calls
        messages.append(message)
        image_parts: list[dict[str, Any]] = []
        for call in calls:
            call_id = call["id"]
            output = outputs.pop(call_id, None)
            if output is None:
                notes.append(
                    Note("info", "aborted_call", call_id, f"tool call {call_id!r} has no output; sent {_ABORTED!r}")
                )
                messages.append({"role": "tool", "tool_call_id": call_id, "content": _ABORTED})
                continue
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output.text})
            if output.images:
                image_parts.append({"type": "text", "text": f"Image returned by tool call {call_id}:"})
                image_parts.extend(output.images)
        if image_parts:
            messages.append({"role": "user", "content": image_parts})
    for call_id, output in outputs.items():
        reason = f"no tool call has call_id {call_id!r}"
        notes.append(Note("debug", "dropped_item", "tool output", f"dropped tool output ({output.where}): {reason}"))
    backfilled = replay(messages, profile.reasoning_replay, profile.reasoning_backfill)
    if backfilled:
        notes.append(
            Note(
                "debug",
                "reasoning_backfilled",
                profile.label or profile.model,
                f"backfilled reasoning_content on {backfilled} assistant turn(s)",
            )
        )
    return messages


def _join_split_turns(segments: list[Segment]) -> list[Segment]:
    """Adjacent turns as one: only items that produce no message (a tool output with no call in the
    history, dropped at assembly) stood between them, and DeepSeek V4 rejects two assistant messages in
    a row. A turn with tool calls stays closed: its tool answers will follow it."""
    joined: list[Segment] = []
    for segment in segments:
        previous = joined[-1] if joined else None
        if isinstance(segment, Turn) and isinstance(previous, Turn) and not previous.calls:
            previous.texts.extend(segment.texts)
            previous.reasoning.extend(segment.reasoning)
            previous.calls.extend(segment.calls)
        else:
            joined.append(segment)
    return joined
