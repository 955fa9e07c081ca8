"""LM Studio's local server. Open models may think inside ``<think>`` tags. Overflow is answered with
HTTP 200 and an error body, ``{"error": "Trying to keep the first N tokens when context the
overflows. However, the model is loaded with context length of only M tokens, which is not enough.
..."}``; during generation "Reached context length of N tokens ..."."""

from __future__ import annotations

from mimo2codex.providers.base import ErrorHint
from mimo2codex.providers.presets.preset import Preset

PRESET = Preset(
    name="lmstudio",
    display_name="LM Studio",
    base_url="http://localhost:1234/v1",
    hosts=("http://127.0.0.1:1234/v1",),
    env_key="LMSTUDIO_API_KEY",
    default_model="qwen/qwen3-8b",
    think_tags=True,
    error_hints=(ErrorHint("context length of only", "Reload the model in LM Studio with a larger context length."),),
    keyless="lmstudio",
    sources=(
        "https://github.com/lmstudio-ai/lmstudio-bug-tracker/issues/546 (overflow message)",
        "https://github.com/lmstudio-ai/lmstudio-bug-tracker/issues/2322 (answered with HTTP 200)",
        "https://github.com/lmstudio-ai/lmstudio-bug-tracker/issues/1251 (mid-generation overflow)",
    ),
)
