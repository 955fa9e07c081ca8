"""Every startup error and warning mimo2codex can print, as named templates.

Each message names where the problem is (the file or environment variable, the provider, the
field) and what to do. Keeping the templates in one table lets ``tests/test_docs.py`` check that
the troubleshooting guide (``docs/generic-providers.md``) explains every one of them.

>>> PROBLEMS["field_required"].error(file="p.json", provider="'qwen'", field="baseUrl")
ConfigError("p.json: provider 'qwen', field baseUrl: is required")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mimo2codex.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    template: str

    def message(self, **values: Any) -> str:
        return self.template.format(**values)

    def error(self, **values: Any) -> ConfigError:
        return ConfigError(self.message(**values))


_FIELD = "{file}: provider {provider}, field {field}: "

PROBLEMS: dict[str, Problem] = {
    p.code: p
    for p in (
        # -- the providers file ----------------------------------------------------------------------
        Problem("providers_file_missing", "{name}={path}: the providers file does not exist"),
        Problem("providers_file_unreadable", "{file}: cannot read the providers file: {reason}"),
        Problem("providers_json_invalid", "{file}: invalid JSON at line {line}, column {column}: {reason}"),
        Problem("providers_json_duplicate_key", '{file}: the key "{key}" appears twice in one JSON object'),
        Problem("providers_root", '{file}: the top level must be an object with a "providers" array, got {got}'),
        Problem("providers_not_array", "{file}: field providers: must be an array of provider objects, got {got}"),
        Problem("provider_not_object", "{file}: {where}: must be a JSON object, got {got}"),
        # -- one provider's fields ------------------------------------------------------------------
        Problem("field_required", _FIELD + "is required"),
        Problem("field_type", _FIELD + "must be {expected}, got {got}"),
        Problem("field_choice", _FIELD + "must be one of {choices}, got {value}"),
        Problem("id_reserved", _FIELD + '"{value}" is reserved for a built-in provider; choose another id'),
        Problem(
            "id_chars",
            _FIELD + '"{value}" may only contain letters, digits, "-" and "_", and must start with a letter or digit',
        ),
        Problem(
            "duplicate_handle",
            _FIELD + "\"{value}\" is already the id or shortcut of provider '{other}' ({other_source}); "
            "ids and shortcuts must be unique",
        ),
        Problem("base_url_scheme", _FIELD + "must start with http:// or https://, got {value}"),
        Problem("env_key_name", _FIELD + '"{value}" is not a valid environment variable name'),
        Problem("duplicate_model", _FIELD + 'model id "{value}" is already declared by {other}'),
        Problem("unknown_preset", _FIELD + "no vendor preset is called {value}; the presets are: {choices}"),
        # -- settings ---------------------------------------------------------------------------------
        Problem("bad_value", "{name}={value}: {reason}"),
        Problem("unknown_provider", "{name}={value}: no provider has that id or shortcut. Known providers: {known}"),
        Problem(
            "default_without_key",
            "the default provider {name} ('{id}') has no API key: set {env} or pass --api-key. {where_to_get} "
            "To make another provider the default, pass --model <id|shortcut> or set MIMO2CODEX_DEFAULT_PROVIDER "
            "({keyed}).",
        ),
        # -- warnings -------------------------------------------------------------------------------
        Problem(
            "key_host_mismatch",
            "{label}: the API key from {key_source} starts with '{prefix}', whose host is {expected}, but {url_source} "
            "points to {url} (the host for '{other}' keys): the vendor will answer 401. Remove {url_source} to let "
            "mimo2codex choose the host from the key.",
        ),
        Problem(
            "generic_env_ignored",
            "GENERIC_BASE_URL is set, but {file} defines the providers: the GENERIC_* variables are ignored "
            "(declare that provider in the file instead)",
        ),
        Problem("unknown_field", _FIELD + "unknown field, ignored"),
        Problem("unsupported_feature", _FIELD + "not supported by this version of mimo2codex, ignored"),
        Problem(
            "default_model_not_in_catalog",
            _FIELD + '"{value}" is not one of its models[] (ids or aliases); requests rewritten to it get no '
            "capability flags",
        ),
        Problem(
            "implicit_default",
            "no default provider was chosen and {name} has no API key: using '{chosen}', the only provider with "
            "a key (set MIMO2CODEX_DEFAULT_PROVIDER or pass --model to choose)",
        ),
        Problem(
            "stored_setting_ignored",
            "the admin's stored setting {name} = {value} no longer applies, so it is ignored ({reason}); choose "
            "another value in the admin's Settings, or reset it there",
        ),
        Problem(
            "web_search_token_plan",
            "MiMo: web search is not available with token-plan (tp-) keys, so --web-search is ignored for MiMo",
        ),
    )
}
