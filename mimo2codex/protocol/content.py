"""Message content: Responses content parts -> Chat message content.

Codex sends content as typed parts (``input_text``, ``output_text``, ``input_image``, ``refusal``...);
a Chat message takes a string, or a parts array when a user message carries images. Images go only
where the model can see them: user messages, and tool answers (which ``turns.py`` sends after the
tool messages, as a user message). Every part that cannot be sent becomes a placeholder text and a
:class:`Note`; a malformed part raises :class:`InvalidRequest` naming the field::

    content = ContentLowering(profile, notes)
    user = content.user(item["content"], "input[0].content")        # a string, or parts with images
    system = content.plain(item["content"], "input[1].content")     # always a string
    text, images = content.tool_output(item["output"], "input[3].output")
"""

from __future__ import annotations

from typing import Any

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.fields import required_str
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.profile import UpstreamProfile

_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
_IMAGE_PARTS = frozenset({"input_image", "image_url"})
_CHAT_DETAILS = {"low": "low", "high": "high", "auto": "auto", "original": "high"}
_IMAGE_FOLLOWS = "[image: attached in the next user message]"
_IMAGE_TEXT = "Attached image:"


class ContentLowering:
    """Lowers the content of one request's messages and tool answers for ``profile``'s model."""

    __slots__ = ("label", "notes", "profile")

    def __init__(self, profile: UpstreamProfile, notes: list[Note]) -> None:
        self.profile = profile
        self.label = profile.label or profile.model
        self.notes = notes

    def user(self, content: object, where: str) -> str | list[dict[str, Any]]:
        """A user message's content: a string, or parts when it carries images the model can see."""
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise InvalidRequest(f"{where} must be a string or an array", param=where)
        texts: list[str] = []
        parts: list[dict[str, Any]] | None = None  # created at the first image
        for index, part in enumerate(content):
            part_where = f"{where}[{index}]"
            kind = _part_type(part, part_where)
            if kind in _TEXT_PARTS:
                text = required_str(part, "text", part_where)
            elif kind in _IMAGE_PARTS:
                image = self._image(part, part_where)
                if image is None:
                    text = self._omitted_file(part, part_where)
                elif self.profile.supports_images:
                    if parts is None:
                        parts = [{"type": "text", "text": t} for t in texts]
                    parts.append(image)
                    continue
                else:
                    text = self._omitted_image(part_where)
            else:
                text = self._omitted_part(kind, part_where)
            if parts is None:
                texts.append(text)
            else:
                parts.append({"type": "text", "text": text})
        if parts is None:
            return texts[0] if len(texts) == 1 else "\n".join(texts)
        # MiMo vision rejects an image message without text: 400 "Param Incorrect: `text` is not set".
        if not any(p["type"] == "text" and p["text"].strip() for p in parts):
            parts.insert(0, {"type": "text", "text": _IMAGE_TEXT})
        return parts

    def plain(self, content: object, where: str, joiner: str = "\n") -> str:
        """System and assistant content: always a string (images cannot be sent there)."""
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise InvalidRequest(f"{where} must be a string or an array", param=where)
        texts: list[str] = []
        for index, part in enumerate(content):
            part_where = f"{where}[{index}]"
            kind = _part_type(part, part_where)
            if kind in _TEXT_PARTS:
                texts.append(required_str(part, "text", part_where))
            elif kind == "refusal":
                texts.append(required_str(part, "refusal", part_where))
            else:
                texts.append(self._omitted_part(kind, part_where, "only user messages can carry it"))
        return texts[0] if len(texts) == 1 else joiner.join(texts)

    def tool_output(self, output: list[Any], where: str) -> tuple[str, list[dict[str, Any]]]:
        """A tool answer given as parts: the tool message's text, and the images to send after it.

        A tool message can only hold a string, so each image the model can see is announced in the
        text and handed back to travel in the user message that follows the tool messages.
        """
        texts: list[str] = []
        images: list[dict[str, Any]] = []
        for index, part in enumerate(output):
            part_where = f"{where}[{index}]"
            kind = _part_type(part, part_where)
            if kind in _TEXT_PARTS:
                texts.append(required_str(part, "text", part_where))
            elif kind in _IMAGE_PARTS:
                image = self._image(part, part_where)
                if image is None:
                    texts.append(self._omitted_file(part, part_where))
                elif self.profile.supports_images:
                    images.append(image)
                    texts.append(_IMAGE_FOLLOWS)
                else:
                    texts.append(self._omitted_image(part_where))
            else:
                texts.append(self._omitted_part(kind, part_where))
        return "\n".join(texts), images

    def _image(self, part: dict[str, Any], where: str) -> dict[str, Any] | None:
        """The chat ``image_url`` part for an image part; None for a ``file_id`` reference."""
        url = part.get("image_url")
        detail = part.get("detail")
        if isinstance(url, dict):  # Chat-shaped {"image_url": {"url", "detail"}}
            detail = url.get("detail")
            url = url.get("url")
        if not isinstance(url, str) or not url:
            if url is None and isinstance(part.get("file_id"), str):
                return None
            raise InvalidRequest(f"{where}.image_url must be a non-empty string", param=f"{where}.image_url")
        image_url = {"url": url}
        chat_detail = _CHAT_DETAILS.get(detail) if isinstance(detail, str) else None
        if chat_detail is not None:
            image_url["detail"] = chat_detail
        return {"type": "image_url", "image_url": image_url}

    def _omitted_image(self, where: str) -> str:
        self.notes.append(
            Note(
                "info",
                "image_omitted",
                self.label,
                f"replaced an image with a placeholder ({where}): {self.label} does not accept image input",
            )
        )
        return f"[image omitted: {self.label} does not accept image input]"

    def _omitted_file(self, part: dict[str, Any], where: str) -> str:
        file_id = part.get("file_id")
        self.notes.append(
            Note(
                "info",
                "image_omitted",
                str(file_id),
                f"replaced image file {file_id!r} with a placeholder ({where}): "
                "OpenAI file ids cannot be fetched by other vendors",
            )
        )
        return f"[image omitted: {file_id} is an OpenAI file id that {self.label} cannot read]"

    def _omitted_part(self, kind: str, where: str, reason: str | None = None) -> str:
        why = reason or f"{self.label} does not accept it through this gateway"
        self.notes.append(
            Note("info", "part_omitted", kind, f"replaced a {kind!r} part with a placeholder ({where}): {why}")
        )
        return f"[{kind} omitted: {why}]"


def _part_type(part: object, where: str) -> str:
    if not isinstance(part, dict):
        raise InvalidRequest(f"{where} must be an object", param=where)
    kind = part.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"{where}.type must be a string", param=f"{where}.type")
    return kind
