"""A vendor's thinking switch: the request field that turns a hybrid model's reasoning on or off.

Vendors spell it differently -- ``thinking: {"type": "enabled"}`` (Kimi, GLM, Volcengine Ark),
``enable_thinking: true`` (Qwen on DashScope, SiliconFlow) -- so the switch is data
(:class:`ThinkingSwitch`) and one quirk set (:class:`ThinkingQuirks`) applies any of them. The field is
sent only to catalog models flagged ``supports_reasoning``: a model without thinking may reject it, and
an open catalog says nothing about the model, so the vendor's own default applies there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.providers.base import ModelInfo, Provider, Quirks


@dataclass(frozen=True, slots=True)
class ThinkingSwitch:
    """The fields merged into a request to a reasoning model, thinking on and off."""

    on: Mapping[str, Any] = field(default_factory=dict)
    off: Mapping[str, Any] = field(default_factory=dict)
    #: the replay rule while thinking is on (e.g. REQUIRED for Kimi); None keeps the provider's
    replay: ReasoningReplay | None = None


@dataclass(frozen=True, slots=True)
class ThinkingQuirks(Quirks):
    switch: ThinkingSwitch = field(default_factory=ThinkingSwitch)
    #: ``--disable-thinking`` turns it off
    thinking: bool = True

    def profile(self, provider: Provider, model: str, info: ModelInfo | None) -> UpstreamProfile:
        if info is None or not info.supports_reasoning:
            return Quirks.profile(self, provider, model, info)
        fields = self.switch.on if self.thinking else self.switch.off
        replay = self.switch.replay if self.thinking and self.switch.replay is not None else self.reasoning_replay
        # The provider's own extra body (the user's providers.json extraBody) wins over the switch.
        quirks = self.with_overrides(extra_body={**fields, **self.extra_body}, reasoning_replay=replay)
        return Quirks.profile(quirks, provider, model, info)
