"""``providers.json``: generic providers declared in a file, in the Node mimo2codex's format.

The file is ``$MIMO2CODEX_PROVIDERS_FILE`` (which must exist), else ``<data dir>/providers.json``
when present::

    {"providers": [{"id": "qwen", "baseUrl": "https://dashscope.aliyuncs.com/compatible-mode/v1",
                    "envKey": "QWEN_API_KEY", "defaultModel": "qwen3-coder-plus",
                    "models": [{"id": "qwen3-coder-plus", "contextWindow": 1000000}]}]}

Every field is checked at startup; a problem stops the gateway with a message that names the file,
the provider and the field (``docs/generic-providers.md`` lists every message). Fields this version
does not know are ignored with a warning, so files written for the Node tool keep loading.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mimo2codex.config_problems import PROBLEMS
from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ModelInfo, Provider, ProviderContext, WireApi
from mimo2codex.providers.endpoint import Endpoint
from mimo2codex.providers.generic import (
    MAX_TOKENS_FIELDS,
    REPLAYS,
    RESERVED_IDS,
    WIRE_APIS,
    Features,
    Where,
    base_url_env,
    build,
    quoted,
)
from mimo2codex.providers.presets import PRESETS, Preset, preset_for_url

PROVIDERS_FILE_ENV = "MIMO2CODEX_PROVIDERS_FILE"
FILE_NAME = "providers.json"

_PROVIDER_FIELDS = frozenset(
    {
        "id",
        "preset",
        "shortcut",
        "displayName",
        "baseUrl",
        "envKey",
        "defaultModel",
        "wireApi",
        "models",
        "features",
        "docsUrl",
    }
)
#: fields of the Node tool that only its admin UI read: accepted without a warning
_SILENT_FIELDS = frozenset({"selectedModels"})
_MODEL_FIELDS = frozenset(
    {
        "id",
        "aliases",
        "displayName",
        "contextWindow",
        "maxOutputTokens",
        "supportsImages",
        "supportsReasoning",
        "supportsWebSearch",
        "reasoningReplay",
        "deprecatedAfter",
    }
)
#: boolean switches of the Node tool that drop one request field
_DROP_SWITCHES = {
    "dropStreamOptions": "stream_options",
    "dropParallelToolCalls": "parallel_tool_calls",
    "dropResponseFormat": "response_format",
    "dropReasoningEffort": "reasoning_effort",
    "dropToolChoiceAuto": "tool_choice",
}
#: Node-tool switches for fixes the translator always applies (strict: null, content: null,
#: non-function tools): accepted, nothing to do
_ALWAYS_ON = frozenset({"dropNullStrict", "dropNullContent", "dropNonFunctionTools"})
#: Node-tool switches without an equivalent here
_UNSUPPORTED = frozenset({"minimaxCompat", "mergeSystemMessages", "enhanceErrorPreset"})


def locate(explicit: Path | None, data_dir: Path, *, name: str = PROVIDERS_FILE_ENV) -> Path | None:
    """The providers file to read: ``explicit`` (from ``name``; it must exist), else the data dir's, if any."""
    if explicit is not None:
        path = explicit.expanduser()
        if not path.is_file():
            raise PROBLEMS["providers_file_missing"].error(name=name, path=path)
        return path
    default = data_dir / FILE_NAME
    return default if default.is_file() else None


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, list):
        return "an array"
    return "an object"


def _no_duplicate_keys(file: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise PROBLEMS["providers_json_duplicate_key"].error(file=file, key=key)
            result[key] = value
        return result

    return hook


def read(path: Path) -> list[Any]:
    """The raw ``providers`` array of the file, after the file-level checks."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM from Windows editors
    except (OSError, UnicodeDecodeError) as exc:
        raise PROBLEMS["providers_file_unreadable"].error(file=file, reason=exc) from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys(file))
    except json.JSONDecodeError as exc:
        raise PROBLEMS["providers_json_invalid"].error(
            file=file, line=exc.lineno, column=exc.colno, reason=exc.msg
        ) from None
    if not isinstance(document, dict):
        raise PROBLEMS["providers_root"].error(file=file, got=_type_name(document))
    entries = document.get("providers", [])
    if not isinstance(entries, list):
        raise PROBLEMS["providers_not_array"].error(file=file, got=_type_name(entries))
    return entries


class _Entry:
    """Typed access to one provider object, raising errors that name file, provider and field."""

    def __init__(self, where: Where, raw: dict[str, Any], warnings: list[str]) -> None:
        self.where = where
        self.raw = raw
        self.warnings = warnings

    def typed(self, obj: Mapping[str, Any], key: str, field: str, kind: type | tuple[type, ...], expected: str) -> Any:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and kind is not bool:
            raise self.where.error("field_type", field, expected=expected, got=_type_name(value))
        if not isinstance(value, kind):
            raise self.where.error("field_type", field, expected=expected, got=_type_name(value))
        return value

    def text(self, obj: Mapping[str, Any], key: str, field: str, *, required: bool = False) -> str | None:
        value = self.typed(obj, key, field, str, "a string")
        if value is not None:
            value = value.strip()
        if not value:
            if required:
                raise self.where.error("field_required", field)
            return None
        return str(value)

    def flag(self, obj: Mapping[str, Any], key: str, field: str) -> bool:
        return bool(self.typed(obj, key, field, bool, "true or false"))

    def count(self, obj: Mapping[str, Any], key: str, field: str) -> int | None:
        value = self.typed(obj, key, field, int, "a positive integer")
        if value is None:
            return None
        if value < 1:
            raise self.where.error("field_type", field, expected="a positive integer", got=_type_name(value))
        return int(value)

    def strings(self, obj: Mapping[str, Any], key: str, field: str) -> tuple[str, ...]:
        value = self.typed(obj, key, field, list, "an array of strings")
        if value is None:
            return ()
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.where.error(
                    "field_type", f"{field}[{index}]", expected="a non-empty string", got=_type_name(item)
                )
        return tuple(item.strip() for item in value)

    def unknown(self, obj: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
        for key in obj:
            if key not in known and key not in _SILENT_FIELDS:
                self.warnings.append(self.where.warning("unknown_field", f"{prefix}{key}"))


def _models(entry: _Entry) -> tuple[ModelInfo, ...]:
    raw = entry.typed(entry.raw, "models", "models", list, "an array of model objects")
    if not raw:
        return ()
    models: list[ModelInfo] = []
    claimed: dict[str, str] = {}
    for index, item in enumerate(raw):
        at = f"models[{index}]"
        if not isinstance(item, dict):
            raise entry.where.error("field_type", at, expected="an object", got=_type_name(item))
        entry.unknown(item, _MODEL_FIELDS, f"{at}.")
        model_id = entry.text(item, "id", f"{at}.id", required=True)
        assert model_id is not None
        aliases = entry.strings(item, "aliases", f"{at}.aliases")
        for name, field in ((model_id, f"{at}.id"), *((a, f"{at}.aliases") for a in aliases)):
            if name in claimed:
                raise entry.where.error("duplicate_model", field, value=name, other=claimed[name])
            claimed[name] = field
        replay = entry.text(item, "reasoningReplay", f"{at}.reasoningReplay")
        models.append(
            ModelInfo(
                id=model_id,
                aliases=aliases,
                display_name=entry.text(item, "displayName", f"{at}.displayName") or "",
                context_window=entry.count(item, "contextWindow", f"{at}.contextWindow"),
                max_output_tokens=entry.count(item, "maxOutputTokens", f"{at}.maxOutputTokens"),
                supports_images=entry.flag(item, "supportsImages", f"{at}.supportsImages"),
                supports_reasoning=entry.flag(item, "supportsReasoning", f"{at}.supportsReasoning"),
                supports_web_search=entry.flag(item, "supportsWebSearch", f"{at}.supportsWebSearch"),
                reasoning_replay=ReasoningReplay(entry.where.choice(f"{at}.reasoningReplay", replay, REPLAYS))
                if replay
                else None,
                legacy=entry.text(item, "deprecatedAfter", f"{at}.deprecatedAfter") is not None,
            )
        )
    return tuple(models)


def _features(entry: _Entry, features: Features) -> Features:
    """``features`` (a preset's, or the defaults) with what the entry's ``features`` object sets."""
    raw = entry.typed(entry.raw, "features", "features", dict, "an object")
    if not raw:
        return features
    at = "features."
    # Only the switches the entry names replace the preset's: the user's word wins, silence keeps the preset.
    for key, attr in (
        ("forceParallelToolCalls", "force_parallel_tool_calls"),
        ("webSearch", "web_search"),
        ("extractThinkTags", "think_tags"),
        ("supportsReasoningEffort", "supports_reasoning_effort"),
    ):
        if key in raw:
            setattr(features, attr, entry.flag(raw, key, at + key))
    if "dropFields" in raw:
        features.drop_fields = set(entry.strings(raw, "dropFields", at + "dropFields"))
    for switch, request_field in _DROP_SWITCHES.items():
        if entry.flag(raw, switch, at + switch):
            features.drop_fields.add(request_field)
    max_tokens = entry.text(raw, "maxTokensField", at + "maxTokensField")
    if max_tokens:
        features.max_tokens_field = entry.where.choice(at + "maxTokensField", max_tokens, MAX_TOKENS_FIELDS)
    replay = entry.text(raw, "reasoningReplay", at + "reasoningReplay")
    if replay:
        features.reasoning_replay = ReasoningReplay(entry.where.choice(at + "reasoningReplay", replay, REPLAYS))
        if features.thinking_switch is not None:  # the user's rule also holds while thinking is on
            features.thinking_switch = dataclasses.replace(features.thinking_switch, replay=None)
    extra = entry.typed(raw, "extraBody", at + "extraBody", dict, "an object")
    if extra is not None:
        features.extra_body = {**features.extra_body, **extra}
    known = {"forceParallelToolCalls", "webSearch", "extractThinkTags", "supportsReasoningEffort", "dropFields"}
    known |= {"maxTokensField", "reasoningReplay", "extraBody"} | set(_DROP_SWITCHES) | _ALWAYS_ON
    for key in raw:
        if key in _UNSUPPORTED:
            entry.warnings.append(entry.where.warning("unsupported_feature", at + key))
        elif key not in known:
            entry.warnings.append(entry.where.warning("unknown_field", at + key))
    for key in _ALWAYS_ON & raw.keys():
        entry.flag(raw, key, at + key)  # still type-checked
    return features


def parse_provider(raw: Any, index: int, file: str, ctx: ProviderContext) -> Provider:
    """One entry of ``providers[]`` as a :class:`Provider` (key and base URL resolved from ``ctx.env``)."""
    if not isinstance(raw, dict):
        raise PROBLEMS["provider_not_object"].error(file=file, where=f"providers[{index}]", got=_type_name(raw))
    label = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id", "").strip() else None
    where = Where(file, f"'{label.strip()}'" if label else f"#{index + 1} (providers[{index}])")
    entry = _Entry(where, raw, ctx.warnings)
    entry.unknown(raw, _PROVIDER_FIELDS | {"forceDefaultModel"}, "")

    provider_id = entry.text(raw, "id", "id", required=True)
    assert provider_id is not None
    where.handle("id", provider_id)
    if provider_id.lower() in RESERVED_IDS:
        raise where.error("id_reserved", "id", value=provider_id)
    shortcut = entry.text(raw, "shortcut", "shortcut") or provider_id
    where.handle("shortcut", shortcut)
    named = entry.text(raw, "preset", "preset")
    given_url = entry.text(raw, "baseUrl", "baseUrl", required=named is None)
    preset = _preset(where, named) if named else preset_for_url(given_url or "")
    base_url = where.base_url("baseUrl", given_url) if given_url else _preset_value(preset, "base_url")
    given_key = entry.text(raw, "envKey", "envKey", required=preset is None)
    env_key = where.env_name("envKey", given_key) if given_key else _preset_value(preset, "env_key")
    default_model = entry.text(raw, "defaultModel", "defaultModel", required=preset is None) or _preset_value(
        preset, "default_model"
    )
    wire = entry.text(raw, "wireApi", "wireApi")
    wire_api = WireApi(where.choice("wireApi", wire, WIRE_APIS)) if wire else WireApi.CHAT
    models = _merged_models(preset, _models(entry))
    if models and not any(default_model == m.id or default_model in m.aliases for m in models):
        ctx.warnings.append(where.warning("default_model_not_in_catalog", "defaultModel", value=default_model))
    return build(
        ctx,
        id=provider_id,
        display_name=entry.text(raw, "displayName", "displayName")
        or (preset.display_name if named and preset else provider_id),
        endpoint=Endpoint(
            key_envs=(env_key,),
            base_url_env=base_url_env(env_key),
            default_base_url=base_url,
            keyless=preset.keyless if preset else None,
        ),
        default_model=default_model,
        wire_api=wire_api,
        models=models,
        features=_features(entry, Features.from_preset(preset)),
        shortcut=shortcut,
        docs_url=entry.text(raw, "docsUrl", "docsUrl") or (preset.docs_url if preset else None),
        force_default_model=entry.flag(raw, "forceDefaultModel", "forceDefaultModel"),
        source=file,
    )


def _preset(where: Where, name: str) -> Preset:
    preset = PRESETS.get(name.strip().lower())
    if preset is None:
        raise where.error("unknown_preset", "preset", value=quoted(name), choices=", ".join(PRESETS))
    return preset


def _preset_value(preset: Preset | None, attr: str) -> str:
    # Only reached when the entry left the field out, which is an error unless a preset fills it.
    assert preset is not None
    return str(getattr(preset, attr))


def _merged_models(preset: Preset | None, own: tuple[ModelInfo, ...]) -> tuple[ModelInfo, ...]:
    """The entry's models, then the preset's models the entry does not redefine (by id or alias)."""
    if preset is None:
        return own
    names = {name for info in own for name in (info.id, *info.aliases)}
    return own + tuple(info for info in preset.models if info.id not in names)


def from_file(ctx: ProviderContext) -> list[Provider]:
    """The registry entry: every provider of ``ctx.providers_file`` (none without a file)."""
    if ctx.providers_file is None:
        return []
    file = str(ctx.providers_file)
    return [parse_provider(raw, index, file, ctx) for index, raw in enumerate(read(ctx.providers_file))]


__all__ = ["FILE_NAME", "PROVIDERS_FILE_ENV", "from_file", "locate", "parse_provider", "quoted", "read"]
