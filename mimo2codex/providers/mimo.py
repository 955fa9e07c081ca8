"""Xiaomi MiMo: the default provider (id ``mimo``, key ``MIMO_API_KEY``).

MiMo's quirks (CONTRACT Part B):

- thinking mode is a request field, ``thinking: {"type": "enabled"|"disabled"}``; while it is on,
  every earlier assistant turn with tool calls must carry ``reasoning_content`` (replayed, or a
  placeholder for turns that had none). ``--disable-thinking`` switches it off upstream; the flash
  model thinks only when asked, so it gets no field at all;
- ``max_completion_tokens`` instead of ``max_tokens``; ``parallel_tool_calls`` always on (MiMo batches
  tool calls far better with it);
- images only on the vision models (``mimo-v2.5``, ``mimo-v2.5[1m]``, ``mimo-v2-omni``);
- the builtin ``web_search`` tool exists but needs the account's web-search plugin (else 400
  "webSearchEnabled is false") and never works with token-plan (``tp-``) keys: it is forwarded only
  when the user opts in (``--web-search``) and the key is not a token-plan key;
- ``tp-`` keys live on ``token-plan-cn.xiaomimimo.com``, ``sk-`` keys on ``api.xiaomimimo.com``;
  the wrong host answers 401, so the host follows the key unless the user sets one.
"""

from __future__ import annotations

from dataclasses import dataclass

from mimo2codex.config_problems import PROBLEMS
from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.providers.base import ErrorHint, ModelInfo, Provider, ProviderContext, ProviderSource, Quirks
from mimo2codex.providers.endpoint import Endpoint, resolve_endpoint

MIMO_ID = "mimo"
PAYG_BASE_URL = "https://api.xiaomimimo.com/v1"
TOKEN_PLAN_BASE_URL = "https://token-plan-cn.xiaomimimo.com/v1"
TOKEN_PLAN_PREFIX = "tp-"
DOCS_URL = "https://platform.xiaomimimo.com/#/console/api-keys"
PLUGIN_URL = "https://platform.xiaomimimo.com/#/console/plugin"

ENDPOINT = Endpoint(
    key_envs=("MIMO_API_KEY",),
    base_url_env="MIMO_BASE_URL",
    default_base_url=PAYG_BASE_URL,
    key_hosts=((TOKEN_PLAN_PREFIX, TOKEN_PLAN_BASE_URL), ("sk-", PAYG_BASE_URL)),
)

# Windows are MiMo's documented limits for the plain ids; the "[1m]" ids select the 1M-token
# context. Under-stating a window only makes Codex compact earlier; over-stating it ends a long
# session in "context length exceeded".
_WINDOW = 131_072
_WINDOW_1M = 1_000_000

MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "mimo-v2.5-pro",
        display_name="MiMo V2.5 Pro",
        context_window=_WINDOW,
        max_output_tokens=131_072,
        supports_reasoning=True,
        supports_web_search=True,
    ),
    ModelInfo(
        "mimo-v2.5-pro[1m]",
        display_name="MiMo V2.5 Pro (1M context)",
        context_window=_WINDOW_1M,
        max_output_tokens=131_072,
        supports_reasoning=True,
        supports_web_search=True,
    ),
    ModelInfo(
        "mimo-v2.5",
        display_name="MiMo V2.5 (vision)",
        context_window=_WINDOW,
        max_output_tokens=32_768,
        supports_images=True,
        supports_reasoning=True,
        supports_web_search=True,
    ),
    ModelInfo(
        "mimo-v2.5[1m]",
        display_name="MiMo V2.5 (vision, 1M context)",
        context_window=_WINDOW_1M,
        max_output_tokens=32_768,
        supports_images=True,
        supports_reasoning=True,
        supports_web_search=True,
    ),
    ModelInfo(
        "mimo-v2-omni",
        display_name="MiMo V2 Omni (vision)",
        context_window=_WINDOW,
        max_output_tokens=32_768,
        supports_images=True,
        supports_reasoning=True,
        supports_web_search=True,
    ),
    ModelInfo(
        "mimo-v2-flash",
        display_name="MiMo V2 Flash",
        context_window=_WINDOW,
        max_output_tokens=65_536,
    ),
    ModelInfo(
        "mimo-v2-pro",
        display_name="MiMo V2 Pro",
        context_window=_WINDOW,
        max_output_tokens=131_072,
        supports_reasoning=True,
        supports_web_search=True,
        legacy=True,
    ),
)

WEB_SEARCH_TOOL = {"type": "web_search"}

WEB_SEARCH_HINT = ErrorHint(
    "webSearchEnabled is false",
    "MiMo's web-search plugin is not active for this account. Activate it at "
    f"{PLUGIN_URL} (billed separately), or restart mimo2codex without --web-search "
    "(MIMO2CODEX_WEB_SEARCH) so web_search is no longer forwarded.",
)


def is_token_plan(provider: Provider) -> bool:
    key = provider.api_key.reveal() if provider.api_key else ""
    return key.startswith(TOKEN_PLAN_PREFIX) or "token-plan" in provider.base_url.lower()


@dataclass(frozen=True, slots=True)
class MimoQuirks(Quirks):
    thinking: bool = True
    web_search: bool = False

    def profile(self, provider: Provider, model: str, info: ModelInfo | None) -> UpstreamProfile:
        thinks = info is None or info.supports_reasoning
        extra: dict[str, object] = {}
        drop = set(self.drop_fields)
        replay = ReasoningReplay.KEEP
        if thinks:
            extra["thinking"] = {"type": "enabled" if self.thinking else "disabled"}
            if self.thinking:
                replay = ReasoningReplay.REQUIRED
                # MiMo fixes the sampling temperature in thinking mode and rejects overrides.
                drop.add("temperature")
        quirks = self.with_overrides(
            extra_body={**self.extra_body, **extra},
            drop_fields=frozenset(drop),
            reasoning_replay=replay,
            web_search_tool=WEB_SEARCH_TOOL if self.web_search and not is_token_plan(provider) else None,
        )
        return Quirks.profile(quirks, provider, model, info)

    def startup_warnings(self, provider: Provider) -> tuple[str, ...]:
        if self.web_search and provider.api_key and is_token_plan(provider):
            return (PROBLEMS["web_search_token_plan"].message(),)
        return ()


def source(endpoint: Endpoint = ENDPOINT) -> ProviderSource:
    """The registry entry; tests pass an ``endpoint`` whose key-prefix hosts are local fakes."""

    def build(ctx: ProviderContext) -> list[Provider]:
        resolved = resolve_endpoint(endpoint, ctx.env, label="MiMo")
        return [
            Provider(
                id=MIMO_ID,
                display_name="MiMo",
                base_url=resolved.base_url,
                api_key=resolved.api_key,
                default_model="mimo-v2.5-pro",
                models=MODELS,
                quirks=MimoQuirks(
                    max_tokens_field="max_completion_tokens",
                    force_parallel_tool_calls=True,
                    error_hints=(WEB_SEARCH_HINT,),
                    thinking=ctx.thinking,
                    web_search=ctx.web_search,
                ),
                shortcut="mimo",
                docs_url=DOCS_URL,
                endpoint=endpoint,
                builtin=True,
                key_source=resolved.key_source,
                base_url_source=resolved.base_url_source,
            )
        ]

    return build
