"""Volcengine Ark (Doubao). Users call models by versioned id or by endpoint id (``ep-...``), so an
open catalog; ``max_tokens`` capped per model (a 400 "max_tokens should be less than or equal to N"
when over). The exact shape of Ark's context-overflow error could not be verified."""

from __future__ import annotations

from mimo2codex.providers.base import ErrorHint
from mimo2codex.providers.presets.preset import Preset

PRESET = Preset(
    name="ark",
    display_name="Volcengine Ark (Doubao)",
    base_url="https://ark.cn-beijing.volces.com/api/v3",
    hosts=("https://ark.cn-beijing.volces.com/api/coding/v3",),
    env_key="ARK_API_KEY",
    default_model="doubao-seed-1-6-250615",
    docs_url="https://console.volcengine.com/ark/region:ark+cn-beijing/apiKey",
    error_hints=(
        ErrorHint(
            "max_tokens",
            "Ark caps max_tokens per model: lower max_output_tokens (Codex: model_max_output_tokens).",
        ),
    ),
    sources=(
        "https://github.com/NousResearch/hermes-agent/issues/51773 (endpoints, max_tokens cap)",
        "https://github.com/langgenius/dify/issues/13451 (max_tokens cap message)",
    ),
)
