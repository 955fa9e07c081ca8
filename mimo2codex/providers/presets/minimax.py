"""MiniMax. M2 models think inside ``content`` as ``<think>...</think>`` and the whole content must come
back verbatim in multi-turn tool use; ``max_completion_tokens`` (``max_tokens`` is deprecated); no
``strict`` on tools; text only. Errors arrive in ``base_resp`` ({"status_code": 2013, "status_msg":
"invalid params, context window exceeds limit"}), also inside an HTTP 200 answer."""

from __future__ import annotations

from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ErrorHint, ModelInfo
from mimo2codex.providers.presets.preset import Preset

_WINDOW = 204_800

PRESET = Preset(
    name="minimax",
    display_name="MiniMax",
    base_url="https://api.minimax.io/v1",
    hosts=("https://api.minimaxi.com/v1",),
    env_key="MINIMAX_API_KEY",
    default_model="MiniMax-M2.7",
    docs_url="https://platform.minimax.io/user-center/basic-information/interface-key",
    models=(
        ModelInfo("MiniMax-M2.7", display_name="MiniMax M2.7", context_window=_WINDOW, supports_reasoning=True),
        ModelInfo("MiniMax-M2.5", display_name="MiniMax M2.5", context_window=_WINDOW, supports_reasoning=True),
        ModelInfo("MiniMax-M2.1", display_name="MiniMax M2.1", context_window=_WINDOW, supports_reasoning=True),
        ModelInfo("MiniMax-M2", display_name="MiniMax M2", context_window=_WINDOW, supports_reasoning=True),
    ),
    max_tokens_field="max_completion_tokens",
    reasoning_replay=ReasoningReplay.INLINE,
    think_tags=True,
    error_hints=(
        ErrorHint(
            "context window exceeds limit",
            "MiniMax counts max_completion_tokens against the window too: a smaller max_output_tokens can help.",
        ),
    ),
    sources=(
        "https://platform.minimax.io/docs/api-reference/text-openai-api (<think> in content, keep it)",
        "https://github.com/MiniMax-AI/MiniMax-M2/issues/119 (overflow 2013; M2 series is 200K)",
        "https://github.com/NousResearch/hermes-agent/pull/14743 (204800 window)",
        "https://github.com/MiniMax-AI/MiniMax-01/issues/15 (base_resp error inside a 200 answer)",
        "https://java.agentscope.io/v2/en/integration/model/minimax (max_completion_tokens, no strict)",
    ),
)
