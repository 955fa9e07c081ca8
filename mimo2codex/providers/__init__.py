"""The provider registry: every source of upstream providers, in order.

Each entry is one module's builder ``(ProviderContext) -> list[Provider]``. Adding a vendor with its
own quirk set means one module and one line here, never a branch on a provider name elsewhere.

Built-ins come first (they are listed first in the banner and the catalog); routing still lets a
generic provider with a catalog claim a model id before the built-ins do (see ``routing.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mimo2codex.config_problems import PROBLEMS
from mimo2codex.providers import config_file, deepseek, generic, mimo
from mimo2codex.providers.base import (
    ErrorHint,
    ModelInfo,
    Provider,
    ProviderContext,
    ProviderSource,
    Quirks,
    WireApi,
)

REGISTRY: Mapping[str, ProviderSource] = {
    mimo.MIMO_ID: mimo.source(),
    deepseek.DEEPSEEK_ID: deepseek.source(),
    "providers.json": config_file.from_file,
    generic.GENERIC_ID: generic.from_env,
}


def load_providers(ctx: ProviderContext, registry: Mapping[str, ProviderSource] = REGISTRY) -> tuple[Provider, ...]:
    """Every configured provider, keyed or not (a keyless one still owns its catalog's model ids).

    Raises :class:`~mimo2codex.errors.ConfigError` when two providers share an id or shortcut.
    """
    providers = [p for build in registry.values() for p in build(ctx)]
    claimed: dict[str, Provider] = {}
    for provider in providers:
        names = [("id", provider.id)]
        if provider.shortcut and provider.shortcut.lower() != provider.id.lower():
            names.append(("shortcut", provider.shortcut))
        for field, name in names:
            other = claimed.get(name.lower())
            if other is not None:
                raise PROBLEMS["duplicate_handle"].error(
                    file=provider.source,
                    provider=f"'{provider.id}'",
                    field=field,
                    value=name,
                    other=other.id,
                    other_source=other.source,
                )
            claimed[name.lower()] = provider
    return tuple(providers)


def find_provider(providers: Sequence[Provider], name: str) -> Provider | None:
    """The provider whose id or shortcut is ``name`` (case-insensitive)."""
    wanted = name.strip().lower()
    for provider in providers:
        if wanted in (provider.id.lower(), (provider.shortcut or "").lower()):
            return provider
    return None


__all__ = [
    "REGISTRY",
    "ErrorHint",
    "ModelInfo",
    "Provider",
    "ProviderContext",
    "ProviderSource",
    "Quirks",
    "WireApi",
    "find_provider",
    "load_providers",
]
