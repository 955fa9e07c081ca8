"""Ollama's OpenAI-compatible server. Open models may think inside ``<think>`` tags; newer builds send
``reasoning``. Ollama does not reject an over-long prompt: it truncates it to ``num_ctx`` (a
"truncating input prompt" warning in its log), so no overflow error ever reaches the gateway."""

from __future__ import annotations

from mimo2codex.providers.presets.preset import Preset

PRESET = Preset(
    name="ollama",
    display_name="Ollama",
    base_url="http://localhost:11434/v1",
    hosts=("http://127.0.0.1:11434/v1",),
    env_key="OLLAMA_API_KEY",
    default_model="qwen3:8b",
    think_tags=True,
    keyless="ollama",
    sources=(
        "https://ollama.com/blog/thinking (thinking models, separated thinking)",
        "https://github.com/ollama/ollama/issues/3839 (silent truncation)",
        "https://github.com/ollama/ollama/issues/9452 (truncating input prompt; OLLAMA_CONTEXT_LENGTH)",
    ),
)
