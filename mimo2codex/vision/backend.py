"""Which vision model reads images for a text-only model. No I/O.

``--vision-model PROVIDER/MODEL`` (``MIMO2CODEX_VISION_MODEL``) names one for every provider;
``off`` turns the bridge off; unset, each provider uses its own first vision model, when it has one
(``mimo-v2.5`` for MiMo; DeepSeek has none)::

    backend = choose_backend("mimo/mimo-v2.5", settings.providers, routed=route.provider)
    if isinstance(backend, NoBackend):
        print(backend.reason)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mimo2codex.config_problems import PROBLEMS
from mimo2codex.providers import find_provider
from mimo2codex.providers.base import Provider

#: the ``--vision-model`` value that turns the bridge off
OFF = "off"
_OFF_WORDS = frozenset({"off", "none", "no", "false", "0"})


def parse_vision_model(value: str) -> str:
    """``PROVIDER/MODEL`` or ``off`` (the settings parser of ``--vision-model``)."""
    text = value.strip()
    if text.lower() in _OFF_WORDS:
        return OFF
    provider, slash, model = text.partition("/")
    if not slash or not provider.strip() or not model.strip():
        raise ValueError(f"expected PROVIDER/MODEL (e.g. mimo/mimo-v2.5) or off, got {value!r}")
    return f"{provider.strip()}/{model.strip()}"


@dataclass(frozen=True, slots=True)
class VisionBackend:
    provider: Provider
    #: the upstream model id (an alias resolved to its catalog id)
    model: str

    @property
    def label(self) -> str:
        return f"{self.model} on {self.provider.id}"

    @property
    def spec(self) -> str:
        """``provider/model``: the cache and the request log name the reader this way."""
        return f"{self.provider.id}/{self.model}"


@dataclass(frozen=True, slots=True)
class NoBackend:
    """No vision model can read images for this request, and why (shown in the placeholder)."""

    reason: str


def choose_backend(choice: str | None, providers: Sequence[Provider], routed: Provider) -> VisionBackend | NoBackend:
    """The vision model for a request routed to ``routed``, given the ``--vision-model`` value."""
    if choice == OFF:
        return NoBackend("the vision bridge is off (--vision-model off)")
    if choice is None:
        vision = next((m for m in sorted(routed.models, key=lambda m: m.legacy) if m.supports_images), None)
        if vision is None:
            return NoBackend(
                f"{routed.display_name} has no vision model and none is configured "
                "(--vision-model PROVIDER/MODEL, e.g. mimo/mimo-v2.5)"
            )
        return VisionBackend(routed, vision.id)
    name, _, model = choice.partition("/")
    provider = find_provider(providers, name)
    if provider is None:
        return NoBackend(f"--vision-model names provider {name!r}, which is not configured")
    if not provider.api_key:
        return NoBackend(f"the vision model's provider {provider.display_name} has no API key")
    info = provider.model_info(model)
    if info is not None and not info.supports_images:
        return NoBackend(f"--vision-model {choice}: {info.id} does not accept images")
    return VisionBackend(provider, info.id if info is not None else model)


def check_vision_model(choice: str | None, providers: Sequence[Provider], source: str) -> tuple[str, ...]:
    """Startup check of ``--vision-model``: an unknown provider is an error, the rest are warnings."""
    if choice is None or choice == OFF:
        return ()
    name = choice.partition("/")[0]
    provider = find_provider(providers, name)
    if provider is None:
        known = ", ".join(p.handle for p in providers)
        raise PROBLEMS["unknown_provider"].error(name=source, value=name, known=known)
    found = choose_backend(choice, providers, provider)
    if isinstance(found, NoBackend):
        return (f"{source}={choice}: {found.reason}; images sent to text-only models become placeholders",)
    return ()


def image_readers(choice: str | None, providers: Sequence[Provider]) -> Callable[[Provider], bool]:
    """``reads_images`` for :func:`mimo2codex.catalog.codex_catalog`, from settings alone (the CLI)."""

    def reads(provider: Provider) -> bool:
        return isinstance(choose_backend(choice, providers, provider), VisionBackend)

    return reads
