"""Generic OpenAI-compatible providers: plain Chat Completions (or native Responses) upstreams.

Their quirks are data only (:class:`~mimo2codex.providers.base.Quirks` fields), so this module
only turns configuration into providers: the field checks shared by ``providers.json``
(:mod:`mimo2codex.providers.config_file`) and the env-only ``GENERIC_*`` provider defined here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mimo2codex.config_problems import PROBLEMS
from mimo2codex.errors import ConfigError
from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ErrorHint, ModelInfo, Provider, ProviderContext, Quirks, WireApi
from mimo2codex.providers.endpoint import Endpoint, resolve_endpoint
from mimo2codex.providers.presets import Preset, preset_for_url
from mimo2codex.providers.thinking import ThinkingQuirks, ThinkingSwitch

GENERIC_ID = "generic"
#: the ``source`` of the env-only provider (the admin carries it into a first providers.json)
ENV_SOURCE = "GENERIC_* environment variables"
#: the variable its key is read from
ENV_KEY = "GENERIC_API_KEY"
#: ids of the built-in providers; a generic provider may not take them
RESERVED_IDS = frozenset({"mimo", "deepseek"})
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WIRE_APIS = tuple(w.value for w in WireApi)
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
REPLAYS = tuple(r.value for r in ReasoningReplay)
#: the vendor-neutral builtin web-search tool (MiMo's shape), for ``features.webSearch``
WEB_SEARCH_TOOL = {"type": "web_search"}


def quoted(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


@dataclass(frozen=True, slots=True)
class Where:
    """Names the place of a value in the configuration, for error messages."""

    file: str
    provider: str

    def error(self, code: str, field: str, **values: Any) -> ConfigError:
        return PROBLEMS[code].error(file=self.file, provider=self.provider, field=field, **values)

    def warning(self, code: str, field: str, **values: Any) -> str:
        return PROBLEMS[code].message(file=self.file, provider=self.provider, field=field, **values)

    def handle(self, field: str, value: str) -> str:
        if not _HANDLE.match(value):
            raise self.error("id_chars", field, value=value)
        return value

    def base_url(self, field: str, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise self.error("base_url_scheme", field, value=quoted(value))
        return value.rstrip("/")

    def env_name(self, field: str, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise self.error("env_key_name", field, value=value)
        return value

    def choice(self, field: str, value: str, choices: tuple[str, ...]) -> str:
        normalized = value.strip().lower()
        if normalized not in choices:
            raise self.error("field_choice", field, choices=", ".join(f'"{c}"' for c in choices), value=quoted(value))
        return normalized


@dataclass
class Features:
    """``features`` of a generic provider, already type-checked."""

    force_parallel_tool_calls: bool = False
    web_search: bool = False
    think_tags: bool = False
    drop_fields: set[str] = field(default_factory=set)
    max_tokens_field: str = "max_tokens"
    reasoning_replay: ReasoningReplay = ReasoningReplay.KEEP
    supports_reasoning_effort: bool = False
    extra_body: dict[str, Any] = field(default_factory=dict)
    #: from a vendor preset: its thinking switch and error hints
    thinking_switch: ThinkingSwitch | None = None
    error_hints: tuple[ErrorHint, ...] = ()

    @classmethod
    def from_preset(cls, preset: Preset | None) -> Features:
        """The features a preset starts an entry from (plain defaults without one)."""
        if preset is None:
            return cls()
        return cls(
            force_parallel_tool_calls=preset.force_parallel_tool_calls,
            think_tags=preset.think_tags,
            drop_fields=set(preset.drop_fields),
            max_tokens_field=preset.max_tokens_field,
            reasoning_replay=preset.reasoning_replay,
            supports_reasoning_effort=preset.supports_reasoning_effort,
            extra_body=dict(preset.extra_body),
            thinking_switch=preset.thinking,
            error_hints=preset.error_hints,
        )

    def quirks(self, *, thinking: bool = True) -> Quirks:
        if self.thinking_switch is not None:
            return ThinkingQuirks(**self._quirk_fields(), switch=self.thinking_switch, thinking=thinking)
        return Quirks(**self._quirk_fields())

    def _quirk_fields(self) -> dict[str, Any]:
        return dict(
            max_tokens_field=self.max_tokens_field,
            reasoning_replay=self.reasoning_replay,
            supports_reasoning_effort=self.supports_reasoning_effort,
            force_parallel_tool_calls=self.force_parallel_tool_calls,
            think_tags=self.think_tags,
            drop_fields=frozenset(self.drop_fields),
            extra_body=self.extra_body,
            web_search_tool=WEB_SEARCH_TOOL if self.web_search else None,
            error_hints=self.error_hints,
        )


def base_url_env(env_key: str) -> str:
    """``QWEN_API_KEY`` -> ``QWEN_BASE_URL``: the variable that overrides a generic's baseUrl."""
    stem = env_key[: -len("_API_KEY")] if env_key.upper().endswith("_API_KEY") else env_key
    return f"{stem}_BASE_URL"


def build(
    ctx: ProviderContext,
    *,
    id: str,
    display_name: str,
    endpoint: Endpoint,
    default_model: str,
    wire_api: WireApi,
    models: tuple[ModelInfo, ...],
    features: Features,
    shortcut: str | None,
    docs_url: str | None,
    force_default_model: bool,
    source: str,
) -> Provider:
    resolved = resolve_endpoint(endpoint, ctx.env, label=display_name)
    return Provider(
        id=id,
        display_name=display_name,
        base_url=resolved.base_url,
        api_key=resolved.api_key,
        default_model=default_model,
        wire_api=wire_api,
        models=models,
        quirks=features.quirks(thinking=ctx.thinking),
        shortcut=shortcut,
        docs_url=docs_url,
        endpoint=endpoint,
        force_default_model=force_default_model,
        source=source,
        key_source=resolved.key_source,
        base_url_source=resolved.base_url_source,
    )


def from_env(ctx: ProviderContext) -> list[Provider]:
    """The provider described by ``GENERIC_BASE_URL`` & co.; none when it is unset or a file rules."""
    env: Mapping[str, str] = ctx.env
    raw_url = env.get("GENERIC_BASE_URL", "").strip()
    if not raw_url:
        return []
    if ctx.providers_file is not None:
        ctx.warnings.append(PROBLEMS["generic_env_ignored"].message(file=ctx.providers_file))
        return []
    where = Where("GENERIC_BASE_URL", f"'{GENERIC_ID}'")
    base_url = where.base_url("baseUrl", raw_url)
    default_model = env.get("GENERIC_DEFAULT_MODEL", "").strip()
    if not default_model:
        raise Where("GENERIC_DEFAULT_MODEL", f"'{GENERIC_ID}'").error("field_required", "defaultModel")
    wire = Where("GENERIC_WIRE_API", f"'{GENERIC_ID}'").choice(
        "wireApi", env.get("GENERIC_WIRE_API", "chat"), WIRE_APIS
    )
    shortcut = env.get("GENERIC_SHORTCUT", "").strip() or GENERIC_ID
    Where("GENERIC_SHORTCUT", f"'{GENERIC_ID}'").handle("shortcut", shortcut)
    preset = preset_for_url(base_url)  # a known vendor's host brings its catalog and quirks
    return [
        build(
            ctx,
            id=GENERIC_ID,
            display_name=env.get("GENERIC_DISPLAY_NAME", "").strip() or "Generic OpenAI-compatible",
            endpoint=Endpoint(
                key_envs=(ENV_KEY,),
                base_url_env=None,
                default_base_url=base_url,
                keyless=preset.keyless if preset else None,
            ),
            default_model=default_model,
            wire_api=WireApi(wire),
            models=preset.models if preset else (),
            features=Features.from_preset(preset),
            shortcut=shortcut,
            docs_url=preset.docs_url if preset else None,
            force_default_model=False,
            source=ENV_SOURCE,
        )
    ]
