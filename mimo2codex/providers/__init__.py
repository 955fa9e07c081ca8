"""The provider registry: every source of upstream providers, tried in order.

Each entry is one module's builder ``(env) -> Provider | None``. Adding a vendor with its own quirk
set means one module and one line here, never a branch on a provider name elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mimo2codex.providers import generic
from mimo2codex.providers.base import ModelInfo, Provider, Quirks, WireApi

ProviderSource = Callable[[Mapping[str, str]], Provider | None]

#: provider sources, in the order they are listed (banner, /v1/models)
REGISTRY: dict[str, ProviderSource] = {
    generic.GENERIC_ID: generic.from_env,
}


def load_providers(env: Mapping[str, str]) -> tuple[Provider, ...]:
    found = (source(env) for source in REGISTRY.values())
    return tuple(p for p in found if p is not None)


__all__ = ["REGISTRY", "ModelInfo", "Provider", "Quirks", "WireApi", "load_providers"]
