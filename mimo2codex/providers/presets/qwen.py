"""Qwen on Alibaba Cloud Model Studio (DashScope), OpenAI-compatible mode. Switch ``enable_thinking``
(a top-level boolean); reasoning comes back as ``reasoning_content`` and need not be replayed;
``max_tokens``; overflow is a 400 "<400> InternalError.Algo.InvalidParameter: Range of input length
should be [1, N]" with code ``invalid_parameter_error``."""

from __future__ import annotations

from mimo2codex.providers.base import ErrorHint, ModelInfo
from mimo2codex.providers.presets.preset import Preset
from mimo2codex.providers.thinking import ThinkingSwitch

PRESET = Preset(
    name="qwen",
    display_name="Qwen (DashScope)",
    base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
    hosts=("https://dashscope-intl.aliyuncs.com/compatible-mode/v1",),
    env_key="DASHSCOPE_API_KEY",
    default_model="qwen3-coder-plus",
    docs_url="https://bailian.console.aliyun.com/?apiKey=1",
    models=(
        ModelInfo(
            "qwen3-coder-plus", display_name="Qwen3 Coder Plus", context_window=1_000_000, max_output_tokens=65_536
        ),
        ModelInfo("qwen3-max", display_name="Qwen3 Max", context_window=262_144, max_output_tokens=65_536),
        ModelInfo(
            "qwen-plus",
            display_name="Qwen Plus",
            # newer snapshots accept 1M; 131072 holds for every one (declaring less only compacts earlier)
            context_window=131_072,
            max_output_tokens=32_768,
            supports_reasoning=True,
        ),
        ModelInfo(
            "qwen3-vl-plus",
            display_name="Qwen3 VL Plus",
            context_window=262_144,
            max_output_tokens=32_768,
            supports_images=True,
            supports_reasoning=True,
        ),
    ),
    thinking=ThinkingSwitch(on={"enable_thinking": True}, off={"enable_thinking": False}),
    error_hints=(
        ErrorHint(
            "thinking_budget",
            'This Qwen model wants a thinking budget: add "features": {"extraBody": {"thinking_budget": 8192}} '
            "to its providers.json entry, or run mimo2codex with --disable-thinking.",
        ),
    ),
    sources=(
        "https://alibabacloud.com/help/en/model-studio/qwq (enable_thinking on hybrid models such as qwen-plus)",
        "https://github.com/QwenLM/qwen-code/issues/98 (overflow message)",
        "https://github.com/agentscope-ai/QwenPaw/issues/6255 (overflow body: code invalid_parameter_error)",
        "https://github.com/earendil-works/pi/pull/4926 (enable_thinking, reasoning_content)",
        "https://github.com/QwenLM/Qwen-Agent/issues/941 (thinking_budget 400)",
    ),
)
