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
