"""Think tags: reasoning a model writes inside ``content`` as ``<think>...</think>``, split from the answer.

Some upstreams (MiniMax M2, and the local servers: vLLM, Ollama, LM Studio) can put a model's
thinking at the start of the content instead of in ``reasoning_content``. When the route says so
(``ResponseContext.think_tags``), the stream translator passes the content through a
:class:`ThinkSplitter`, which finds the tags even when a chunk boundary cuts one in two::

    splitter = ThinkSplitter()
    for piece in contents:
        for is_reasoning, text in splitter.feed(piece):
            ...
    segments = splitter.flush()
"""

from __future__ import annotations

from typing import Final, Literal

_THINK_OPEN: Final = "<think>"
_THINK_CLOSE: Final = "</think>"


class ThinkSplitter:
    """Splits ``<think>...</think>`` at the start of content from the text after it, across chunks."""

    __slots__ = ("_buffer", "_state")

    def __init__(self) -> None:
        self._state: Literal["start", "think", "text"] = "start"
        self._buffer = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """(is_reasoning, text) segments, in order; holds back what may be a split tag."""
        if self._state == "text":
            return [(False, text)]
        data = self._buffer + text
        self._buffer = ""
        if self._state == "start":
            stripped = data.lstrip()
            if stripped.startswith(_THINK_OPEN):
                self._state = "think"
                data = stripped[len(_THINK_OPEN) :]
            elif _THINK_OPEN.startswith(stripped):
                self._buffer = data
                return []
            else:
                self._state = "text"
                return [(False, data)]
        end = data.find(_THINK_CLOSE)
        if end >= 0:
            self._state = "text"
            return [(True, data[:end]), (False, data[end + len(_THINK_CLOSE) :])]
        keep = next((k for k in range(len(_THINK_CLOSE) - 1, 0, -1) if data.endswith(_THINK_CLOSE[:k])), 0)
        self._buffer = data[len(data) - keep :] if keep else ""
        return [(True, data[: len(data) - keep])]

    def flush(self) -> list[tuple[bool, str]]:
        """What is held back at the end: an unclosed think block is reasoning, a stray "<thi" text."""
        buffer, self._buffer = self._buffer, ""
        return [(self._state == "think", buffer)] if buffer else []
