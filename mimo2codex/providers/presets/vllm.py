"""vLLM's OpenAI-compatible server. Without a reasoning parser, thinking models leave ``<think>`` tags
in ``content``; with one, reasoning comes as ``reasoning_content`` / ``reasoning``. Overflow is a 400
``{"object": "error", "message": "This model's maximum context length is N tokens. However, you
requested M tokens (...)", "type": "BadRequestError", "param": null, "code": 400}``."""

from __future__ import annotations

from mimo2codex.providers.base import ErrorHint
from mimo2codex.providers.presets.preset import Preset

PRESET = Preset(
    name="vllm",
    display_name="vLLM",
    base_url="http://localhost:8000/v1",
    hosts=("http://127.0.0.1:8000/v1",),
    env_key="VLLM_API_KEY",
    default_model="Qwen/Qwen3-8B",
    think_tags=True,
    error_hints=(
        ErrorHint("maximum context length", "vLLM's window is its --max-model-len: start it with a larger one."),
    ),
    keyless="vllm",
    sources=(
        "https://github.com/llm-d/llm-d-inference-sim/issues/82 (vLLM's overflow payload)",
        "https://github.com/vllm-project/vllm-ascend/issues/11557 (current wording)",
        "https://docs.vllm.ai/en/latest/api/vllm/reasoning/minimax_m2_reasoning_parser/ (reasoning parsers)",
    ),
)
