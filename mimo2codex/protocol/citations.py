"""Citations: the sources a web-searching model cites, as ``url_citation`` annotations on its message.

Vendors cite in two shapes. OpenAI-style ``annotations`` on the delta carry a URL and a span of the
content (nested under ``url_citation`` or flat), counted from the start of the whole content; a
Perplexity-style ``citations`` list on the chunk carries bare URLs that ``[n]`` markers in the text
point at. Both become Responses ``url_citation`` annotations on the message item, with spans
relative to that item's text::

    annotation = url_citation(raw)          # None when it is not a usable url_citation
    citations.pending.append(annotation)    # no message open yet: held for the next one
    part["annotations"] = citations.resolve(item_annotations, base, text)
"""

from __future__ import annotations

from typing import Any

from mimo2codex.protocol.usage import whole_number


class Citations:
    """The citations of one response: annotations waiting for a message, and the bare URL list."""

    __slots__ = ("_attached", "_urls", "pending")

    def __init__(self) -> None:
        #: annotations that arrived while no message item was open; the next message takes them
        self.pending: list[dict[str, Any]] = []
        self._urls: list[str] = []
        #: how many of ``_urls`` an earlier message already carries
        self._attached = 0

    def add_urls(self, urls: list[Any]) -> None:
        """Record a chunk's ``citations`` list; a URL a later chunk repeats is recorded once."""
        for url in urls:
            if isinstance(url, str) and url and url not in self._urls:
                self._urls.append(url)

    def take_pending(self) -> list[dict[str, Any]]:
        """The held annotations, for the message item being opened; none are held afterwards."""
        pending, self.pending = self.pending, []
        return pending

    def resolve(self, annotations: list[dict[str, Any]], base: int, text: str) -> list[dict[str, Any]]:
        """The annotations of a message item whose ``text`` starts at content character ``base``.

        Spans are moved to the item's text and clamped into it; each URL of the list not attached
        yet is added, spanning its ``[n]`` marker (or nothing, when the text has no marker).
        """
        size = len(text)
        resolved = []
        for annotation in annotations:
            start = min(max(0, annotation["start_index"] - base), size)
            end = min(max(start, annotation["end_index"] - base), size)
            resolved.append({**annotation, "start_index": start, "end_index": end})
        # A bare URL list (Perplexity-style ``citations``) points at "[n]" markers in the text.
        for number in range(self._attached, len(self._urls)):
            url = self._urls[number]
            marker = f"[{number + 1}]"
            start = text.find(marker)
            span = (start, start + len(marker)) if start >= 0 else (0, 0)
            resolved.append(
                {"type": "url_citation", "url": url, "title": url, "start_index": span[0], "end_index": span[1]}
            )
        self._attached = len(self._urls)
        return resolved


def url_citation(raw: object) -> dict[str, Any] | None:
    """A chat ``url_citation`` annotation (nested or flat) -> the Responses annotation."""
    if not isinstance(raw, dict) or raw.get("type") != "url_citation":
        return None
    body = raw.get("url_citation")
    body = body if isinstance(body, dict) else raw
    url = body.get("url")
    if not isinstance(url, str) or not url:
        return None
    title = body.get("title")
    return {
        "type": "url_citation",
        "url": url,
        "title": title if isinstance(title, str) and title else url,
        "start_index": whole_number(body.get("start_index")),
        "end_index": whole_number(body.get("end_index")),
    }
