"""The settings a database may hold: typed and allow-listed, never a key (pure).

The admin console and ``mimo2codex`` share these through the store's ``settings`` table. A name that
is not listed is refused, and so is any value that looks like a credential: keys live in the
environment or a providers file, never in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mimo2codex.errors import InvalidRequest
from mimo2codex.redaction import redact
from mimo2codex.store.capture import BODY_MODES


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("a whole number, 0 or more")
    return value


def _positive_int(value: Any) -> int:
    if _non_negative_int(value) == 0:
        raise ValueError("a whole number, 1 or more")
    return int(value)


def _body_mode(value: Any) -> str:
    if value not in BODY_MODES:
        raise ValueError(f"one of {', '.join(BODY_MODES)}")
    return str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _short_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError("a non-empty text of at most 200 characters")
    return value.strip()


#: name -> validator (returns the normalized value or raises ValueError saying what is expected)
ALLOWED: dict[str, Callable[[Any], Any]] = {
    "log_bodies": _body_mode,
    "log_body_max": _positive_int,
    "log_retention_days": _non_negative_int,
    "log_max_mb": _non_negative_int,
    "default_provider": _short_text,
    "expose_reasoning": _bool,
    # runtime toggles of the admin (mimo2codex/admin/toggles.py), shared by every instance
    "thinking": _bool,
    "web_search": _bool,
    "vision_model": _short_text,
    "auto_compact": _bool,
    "ui_language": _short_text,
    "ui_theme": _short_text,
}
_KEY_LIKE = ("key", "token", "secret", "password", "credential", "auth")


def check_setting(name: str, value: Any) -> Any:
    """The value to store for ``name``; raises :class:`InvalidRequest` naming the problem."""
    if any(word in name.lower() for word in _KEY_LIKE):
        raise InvalidRequest(
            f"setting {name!r} looks like a credential: keys are never stored in the database", param=name
        )
    validate = ALLOWED.get(name)
    if validate is None:
        raise InvalidRequest(f"unknown setting {name!r}; known: {', '.join(sorted(ALLOWED))}", param=name)
    try:
        checked = validate(value)
    except ValueError as exc:
        raise InvalidRequest(f"setting {name!r} must be {exc}, got {value!r}", param=name) from None
    if isinstance(checked, str) and redact(checked) != checked:
        raise InvalidRequest(f"setting {name!r} holds what looks like a key; refused", param=name)
    return checked
