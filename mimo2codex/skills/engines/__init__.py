"""The image engines, as a registry: one module per service, one entry here.

``auto`` takes the first engine of :data:`AUTO_ORDER` that is configured (a key set, a URL given):
paid engines with a key first, a local web UI the user pointed at next, keyless Pollinations last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mimo2codex.skills.engines import openai, pollinations, replicate, sdwebui
from mimo2codex.skills.engines.base import Engine, EngineFactory, EngineOptions, ImageJob
from mimo2codex.skills.failure import UsageError
from mimo2codex.skills.http_client import HttpClient


@dataclass(frozen=True, slots=True)
class EngineEntry:
    build: EngineFactory
    configured: Callable[[Mapping[str, str], EngineOptions], bool]


ENGINES: Mapping[str, EngineEntry] = {
    openai.NAME: EngineEntry(openai.build, openai.configured),
    replicate.NAME: EngineEntry(replicate.build, replicate.configured),
    sdwebui.NAME: EngineEntry(sdwebui.build, sdwebui.configured),
    pollinations.NAME: EngineEntry(pollinations.build, pollinations.configured),
}
AUTO_ORDER: tuple[str, ...] = tuple(ENGINES)
CHOICES: tuple[str, ...] = ("auto", *ENGINES)


def choose_engine(name: str, env: Mapping[str, str], http: HttpClient, options: EngineOptions) -> Engine:
    """The engine called ``name`` (``auto``: the first configured one)."""
    if name == "auto":
        for candidate in AUTO_ORDER:
            entry = ENGINES[candidate]
            if entry.configured(env, options):
                return entry.build(env, http, options)
        raise UsageError("no image engine is configured")  # unreachable while pollinations is keyless
    chosen = ENGINES.get(name)
    if chosen is None:
        raise UsageError(f"unknown engine {name!r}; one of {', '.join(CHOICES)}")
    return chosen.build(env, http, options)


__all__ = ["AUTO_ORDER", "CHOICES", "ENGINES", "Engine", "EngineOptions", "ImageJob", "choose_engine"]
