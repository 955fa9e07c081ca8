"""What every image engine gets (an :class:`ImageJob`) and gives back (image bytes).

An engine module exports ``build(env, http, options) -> Engine`` and ``configured(env, options)``
(True when ``auto`` may pick it: a key is set, or a URL was given). ``build`` raises
:class:`~mimo2codex.skills.failure.MissingKey` when its key is missing: the command only calls it for
an engine the user chose, or one ``auto`` found configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mimo2codex.skills.http_client import HttpClient, HttpResponse
from mimo2codex.skills.image_input import ImageInput

QUALITIES = ("low", "medium", "high", "auto")


@dataclass(frozen=True, slots=True)
class ImageJob:
    #: the prompt with ``--style`` folded in
    prompt: str
    n: int = 1
    #: (width, height); None: the engine's default ("auto" for OpenAI)
    size: tuple[int, int] | None = None
    seed: int | None = None
    quality: str = "auto"
    reference: ImageInput | None = None
    #: ``--image-model``; None: the engine's default
    model: str | None = None

    @property
    def size_text(self) -> str:
        return f"{self.size[0]}x{self.size[1]}" if self.size else "auto"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Engine settings that come from flags rather than the environment."""

    sd_url: str | None = None


class Engine(Protocol):
    name: str

    def model_for(self, job: ImageJob) -> str: ...

    def generate(self, job: ImageJob) -> list[bytes]:
        """The images' bytes, as the service sent them (the caller sniffs their real type)."""
        ...

    def notes(self, job: ImageJob) -> list[str]:
        """What the engine ignored or changed of the job (shown on stderr)."""
        ...


class EngineFactory(Protocol):
    def __call__(self, env: Mapping[str, str], http: HttpClient, options: EngineOptions) -> Engine: ...


def env_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def error_message(answer: HttpResponse) -> str:
    """The human part of a service's error body, whatever its shape."""
    payload: Any = answer.json()
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])  # OpenAI, the Pollinations gateway
        detail = payload.get("detail")
        if isinstance(detail, str) and detail:
            return detail  # Replicate, FastAPI
        if isinstance(detail, list) and detail:  # FastAPI validation (AUTOMATIC1111)
            return "; ".join(
                f"{'.'.join(map(str, d.get('loc', ())))}: {d.get('msg')}" for d in detail if isinstance(d, dict)
            )
        for key in ("message", "error", "errors"):
            if isinstance(payload.get(key), str) and payload[key]:
                return str(payload[key])
    return answer.text(300) or "(empty body)"
