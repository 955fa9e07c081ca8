"""GLM (Zhipu AI / Z.ai). Switch ``thinking: {"type": ...}``; earlier reasoning may be sent back but is
not required; ``max_tokens``; overflow is a 400 ``{"error": {"code": "1261", "message": "Prompt exceeds
max length"}}``."""

from __future__ import annotations

from mimo2codex.providers.base import ModelInfo
from mimo2codex.providers.presets.preset import Preset
from mimo2codex.providers.thinking import ThinkingSwitch

PRESET = Preset(
    name="glm",
    display_name="GLM (Zhipu AI)",
    base_url="https://open.bigmodel.cn/api/paas/v4",
    hosts=("https://api.z.ai/api/paas/v4",),
    env_key="ZHIPU_API_KEY",
    default_model="glm-4.6",
    docs_url="https://open.bigmodel.cn/usercenter/apikeys",
    models=(
        # 200K as Zhipu announces it (the weights' config allows 202752; under-stating is the safe side)
        ModelInfo(
            "glm-4.6",
            display_name="GLM-4.6",
            context_window=200_000,
            max_output_tokens=131_072,
            supports_reasoning=True,
        ),
        ModelInfo(
            "glm-4.5", display_name="GLM-4.5", context_window=128_000, max_output_tokens=98_304, supports_reasoning=True
        ),
        ModelInfo(
            "glm-4.5-air",
            display_name="GLM-4.5 Air",
            context_window=128_000,
            max_output_tokens=98_304,
            supports_reasoning=True,
        ),
        ModelInfo(
            "glm-4.5v",
            display_name="GLM-4.5V",
            context_window=65_536,
            max_output_tokens=16_384,
            supports_images=True,
            supports_reasoning=True,
        ),
    ),
    thinking=ThinkingSwitch(on={"thinking": {"type": "enabled"}}, off={"thinking": {"type": "disabled"}}),
    sources=(
        "https://docs.bigmodel.cn/cn/guide/capabilities/thinking (thinking.type enabled/disabled)",
        "https://docs.bigmodel.cn/cn/guide/models/text/glm-4.5.md (GLM-4.5: 128K context, 96K output)",
        "https://docs.z.ai/guides/capabilities/thinking-mode (interleaved thinking: return reasoning with tool results)",
        "https://inference.readthedocs.io/en/v2.10.0/models/builtin/llm/glm-4.6.html (GLM-4.6 context 202752)",
        "https://github.com/zeroclaw-labs/zeroclaw/issues/4124 (overflow: code 1261)",
        "https://github.com/farion1231/cc-switch/issues/6982 (same overflow seen through Codex)",
    ),
)
