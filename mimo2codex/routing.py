"""Routing: which provider and upstream model serve the model a client asked for. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from mimo2codex.errors import NotFound
from mimo2codex.providers.base import Provider


@dataclass(frozen=True, slots=True)
class Route:
    provider: Provider
    #: the model id sent upstream
    upstream_model: str
    #: the model the client asked for
    requested: str

    @property
    def rewritten(self) -> bool:
        """True when the client's model was replaced (reported in a response header, never silent)."""
        return self.requested != self.upstream_model


@dataclass(frozen=True, slots=True)
class Router:
    providers: tuple[Provider, ...]
    default: Provider

    def route(self, model: str) -> Route:
        """A keyed provider whose catalog lists ``model`` (id or alias), else the default provider.

        The default provider keeps the client's model when its catalog is open (no ``models``) or
        lists it; otherwise the model is rewritten to the default provider's default model.
        """
        for provider in self.providers:
            if provider.api_key and provider.models:
                info = provider.model_info(model)
                if info is not None:
                    return Route(provider, info.id, model)
        default = self.default
        if not default.models:
            if not model and not default.default_model:
                raise NotFound("no model given and the default provider has no default model", code="model_not_found")
            return Route(default, model or default.default_model, model)
        info = default.model_info(model)
        return Route(default, info.id if info is not None else default.default_model, model)
