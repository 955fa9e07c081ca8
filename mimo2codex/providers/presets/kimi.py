"""Kimi (Moonshot AI). Thinking models require ``reasoning_content`` on every assistant message with
tool calls ("thinking is enabled but reasoning_content is missing in assistant tool call message at
index N"); the switch is ``thinking: {"type": ...}``; ``max_tokens``; overflow is a 400
"Invalid request: Your request exceeded model token limit: 262144 (requested: N)"."""

from __future__ import annotations

from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ModelInfo
from mimo2codex.providers.presets.preset import Preset
from mimo2codex.providers.thinking import ThinkingSwitch

_K2 = 262_144
_K2_OUT = 32_768

PRESET = Preset(
    name="kimi",
    display_name="Kimi (Moonshot AI)",
    base_url="https://api.moonshot.ai/v1",
    hosts=("https://api.moonshot.cn/v1",),
    env_key="MOONSHOT_API_KEY",
    default_model="kimi-k2.6",
    docs_url="https://platform.moonshot.ai/console/api-keys",
    models=(
        ModelInfo(
            "kimi-k2.6",
            display_name="Kimi K2.6",
            context_window=_K2,
            max_output_tokens=_K2_OUT,
            supports_images=True,
            supports_reasoning=True,
        ),
        ModelInfo(
            "kimi-k2.5",
            display_name="Kimi K2.5",
            context_window=_K2,
            max_output_tokens=_K2_OUT,
            supports_images=True,
            supports_reasoning=True,
        ),
        ModelInfo(
            "kimi-k2.7-code",
            display_name="Kimi K2.7 Code",
            context_window=_K2,
            max_output_tokens=_K2_OUT,
            supports_images=True,
            supports_reasoning=True,
        ),
        ModelInfo("moonshot-v1-128k", display_name="Moonshot v1 128K", context_window=131_072),
        ModelInfo("moonshot-v1-32k", display_name="Moonshot v1 32K", context_window=32_768),
        ModelInfo("moonshot-v1-8k", display_name="Moonshot v1 8K", context_window=8_192),
        ModelInfo(
            "moonshot-v1-128k-vision-preview",
            display_name="Moonshot v1 128K vision",
            context_window=131_072,
            supports_images=True,
        ),
    ),
    thinking=ThinkingSwitch(
        on={"thinking": {"type": "enabled"}},
        off={"thinking": {"type": "disabled"}},
        replay=ReasoningReplay.REQUIRED,
    ),
    sources=(
        "https://www.promptfoo.dev/docs/providers/moonshot/ (model line-up, 256K context)",
        "https://github.com/Gitlawb/openclaude/pull/1796 (262144 window, 32768 output, vision)",
        "https://github.com/continuedev/continue/issues/11527 (reasoning_content 400)",
        "https://github.com/can1357/oh-my-pi/issues/2289 (max_tokens, thinking field)",
        "https://github.com/MoonshotAI/kimi-cli/issues/2011 (overflow message)",
    ),
)
