"""OpenRouter: an aggregator (ids like ``moonshotai/kimi-k2.6``), so an open catalog. Reasoning arrives
as ``reasoning``; errors after the stream started arrive as an ``{"error": {...}}`` chunk in the 200
stream; overflow is a 400 "This endpoint's maximum context length is N tokens. However, you requested
about M tokens (...)"."""

from __future__ import annotations

from mimo2codex.providers.presets.preset import Preset

PRESET = Preset(
    name="openrouter",
    display_name="OpenRouter",
    base_url="https://openrouter.ai/api/v1",
    env_key="OPENROUTER_API_KEY",
    default_model="openrouter/auto",
    docs_url="https://openrouter.ai/settings/keys",
    sources=(
        "https://github.com/OpenHands/OpenHands/issues/9937 (overflow message)",
        "https://github.com/letta-ai/letta-code/issues/2886 (overflow message, 2026)",
        "https://github.com/ai-christianson/RA.Aid/issues/41 (provider errors wrapped in metadata)",
    ),
)
