"""DeepSeek (id ``deepseek``, shortcut ``ds``, key ``DS_API_KEY`` or ``DEEPSEEK_API_KEY``).

Its quirks are data only (CONTRACT Part B):

- the V4 models think by default and require ``reasoning_content`` on every earlier assistant turn
  with tool calls (replayed, or a placeholder for turns that had none);
- the legacy ``deepseek-reasoner`` (R1) rejects ``reasoning_content`` anywhere in the input: it is
  stripped for that model only. ``deepseek-chat`` and ``deepseek-reasoner`` are DeepSeek's own names
  for V4 Flash without / with thinking, kept for old configurations and forwarded unchanged;
- no ``thinking`` field, no web-search tool, no images; ``max_tokens``.
"""

from __future__ import annotations

from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ModelInfo, Provider, ProviderContext, ProviderSource, Quirks
from mimo2codex.providers.endpoint import Endpoint, resolve_endpoint

DEEPSEEK_ID = "deepseek"
DOCS_URL = "https://platform.deepseek.com/api_keys"

ENDPOINT = Endpoint(
    key_envs=("DS_API_KEY", "DEEPSEEK_API_KEY"),
    base_url_env="DEEPSEEK_BASE_URL",
    default_base_url="https://api.deepseek.com/v1",
)

_WINDOW = 1_000_000
_MAX_OUTPUT = 393_216  # 384K

MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "deepseek-v4-pro",
        display_name="DeepSeek V4 Pro",
        context_window=_WINDOW,
        max_output_tokens=_MAX_OUTPUT,
        supports_reasoning=True,
    ),
    ModelInfo(
        "deepseek-v4-flash",
        display_name="DeepSeek V4 Flash",
        context_window=_WINDOW,
        max_output_tokens=_MAX_OUTPUT,
        supports_reasoning=True,
    ),
    ModelInfo(
        "deepseek-chat",
        display_name="DeepSeek Chat (V4 Flash, no thinking)",
        context_window=_WINDOW,
        max_output_tokens=_MAX_OUTPUT,
        reasoning_replay=ReasoningReplay.KEEP,
        legacy=True,
    ),
    ModelInfo(
        "deepseek-reasoner",
        display_name="DeepSeek Reasoner (R1 rules)",
        context_window=_WINDOW,
        max_output_tokens=_MAX_OUTPUT,
        supports_reasoning=True,
        reasoning_replay=ReasoningReplay.STRIP,
        legacy=True,
    ),
)

QUIRKS = Quirks(max_tokens_field="max_tokens", reasoning_replay=ReasoningReplay.REQUIRED)


def source(endpoint: Endpoint = ENDPOINT) -> ProviderSource:
    def build(ctx: ProviderContext) -> list[Provider]:
        resolved = resolve_endpoint(endpoint, ctx.env, label="DeepSeek")
        return [
            Provider(
                id=DEEPSEEK_ID,
                display_name="DeepSeek",
                base_url=resolved.base_url,
                api_key=resolved.api_key,
                default_model="deepseek-v4-pro",
                models=MODELS,
                quirks=QUIRKS,
                shortcut="ds",
                docs_url=DOCS_URL,
                endpoint=endpoint,
                builtin=True,
                key_source=resolved.key_source,
                base_url_source=resolved.base_url_source,
            )
        ]

    return build
