"""Acceptance 2: every invalid configuration stops the start with a message naming file, provider and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.errors import ConfigError
from mimo2codex.settings import load_settings

QWEN: dict[str, Any] = {
    "id": "qwen",
    "baseUrl": "https://dashscope.example/v1",
    "envKey": "QWEN_API_KEY",
    "defaultModel": "qwen3-coder-plus",
}


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "providers.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def error_for(tmp_path: Path, document: Any, **env: str) -> str:
    path = write(tmp_path, document)
    values = {"MIMO2CODEX_PROVIDERS_FILE": str(path), "MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO_API_KEY": "sk-m"}
    with pytest.raises(ConfigError) as excinfo:
        load_settings({**values, **env})
    return str(excinfo.value).replace(str(path), "<file>")


def provider(**changes: Any) -> dict[str, Any]:
    entry = {**QWEN, **changes}
    return {"providers": [{k: v for k, v in entry.items() if v is not None}]}


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    text = '{\n  "providers": [\n    {"id": "qwen",, "baseUrl": "x"}\n  ]\n}\n'
    assert error_for(tmp_path, text) == (
        "<file>: invalid JSON at line 3, column 19: Expecting property name enclosed in double quotes"
    )


def test_duplicate_json_key(tmp_path: Path) -> None:
    text = '{"providers": [{"id": "qwen", "id": "kimi"}]}'
    assert error_for(tmp_path, text) == '<file>: the key "id" appears twice in one JSON object'


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], '<file>: the top level must be an object with a "providers" array, got an array'),
        ({"providers": {"id": "x"}}, "<file>: field providers: must be an array of provider objects, got an object"),
        ({"providers": ["qwen"]}, '<file>: providers[0]: must be a JSON object, got the string "qwen"'),
    ],
)
def test_file_shape(tmp_path: Path, document: Any, expected: str) -> None:
    assert error_for(tmp_path, document) == expected


@pytest.mark.parametrize("field", ["baseUrl", "envKey", "defaultModel"])
def test_missing_required_field(tmp_path: Path, field: str) -> None:
    assert error_for(tmp_path, provider(**{field: None})) == f"<file>: provider 'qwen', field {field}: is required"


def test_missing_id_names_the_entry_by_position(tmp_path: Path) -> None:
    document = {"providers": [QWEN, {**QWEN, "id": None}]}
    document["providers"][1] = {k: v for k, v in document["providers"][1].items() if v is not None}
    assert error_for(tmp_path, document) == "<file>: provider #2 (providers[1]), field id: is required"


@pytest.mark.parametrize("reserved", ["mimo", "deepseek", "DeepSeek"])
def test_reserved_id(tmp_path: Path, reserved: str) -> None:
    assert error_for(tmp_path, provider(id=reserved)) == (
        f"<file>: provider '{reserved}', field id: \"{reserved}\" is reserved for a built-in provider; choose another id"
    )


@pytest.mark.parametrize(("field", "value"), [("id", "my provider"), ("id", "-qwen"), ("shortcut", "q/w")])
def test_bad_id_characters(tmp_path: Path, field: str, value: str) -> None:
    label = value if field == "id" else "qwen"
    assert error_for(tmp_path, provider(**{field: value})) == (
        f'<file>: provider \'{label}\', field {field}: "{value}" may only contain letters, digits, "-" and "_", '
        "and must start with a letter or digit"
    )


def test_duplicate_ids(tmp_path: Path) -> None:
    document = {"providers": [QWEN, {**QWEN, "shortcut": "q2"}]}
    assert error_for(tmp_path, document) == (
        "<file>: provider 'qwen', field id: \"qwen\" is already the id or shortcut of provider 'qwen' (<file>); "
        "ids and shortcuts must be unique"
    )


def test_shortcut_taken_by_a_builtin(tmp_path: Path) -> None:
    assert error_for(tmp_path, provider(shortcut="ds")) == (
        "<file>: provider 'qwen', field shortcut: \"ds\" is already the id or shortcut of provider 'deepseek' "
        "(built-in); ids and shortcuts must be unique"
    )


def test_duplicate_shortcuts_between_generics(tmp_path: Path) -> None:
    kimi = {**QWEN, "id": "kimi", "shortcut": "q", "envKey": "KIMI_API_KEY"}
    document = {"providers": [{**QWEN, "shortcut": "q"}, kimi]}
    assert error_for(tmp_path, document) == (
        "<file>: provider 'kimi', field shortcut: \"q\" is already the id or shortcut of provider 'qwen' (<file>); "
        "ids and shortcuts must be unique"
    )


def test_bad_wire_api(tmp_path: Path) -> None:
    assert error_for(tmp_path, provider(wireApi="grpc")) == (
        '<file>: provider \'qwen\', field wireApi: must be one of "chat", "responses", got "grpc"'
    )


def test_missing_providers_file() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"MIMO2CODEX_PROVIDERS_FILE": "/nonexistent/providers.json", "MIMO_API_KEY": "k"})
    assert (
        str(excinfo.value) == "MIMO2CODEX_PROVIDERS_FILE=/nonexistent/providers.json: the providers file does not exist"
    )


def test_missing_providers_file_from_the_flag() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"MIMO_API_KEY": "k"}, {"providers_file": Path("/nonexistent/p.json")})
    assert str(excinfo.value) == "--providers-file=/nonexistent/p.json: the providers file does not exist"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"baseUrl": "dashscope.example/v1"}, 'field baseUrl: must start with http:// or https://, got "dashscope.example/v1"'),
        ({"envKey": "QWEN-KEY"}, 'field envKey: "QWEN-KEY" is not a valid environment variable name'),
        ({"baseUrl": 42}, "field baseUrl: must be a string, got the number 42"),
        ({"models": {"id": "x"}}, "field models: must be an array of model objects, got an object"),
        ({"models": [{"id": "a", "contextWindow": "1M"}]}, 'field models[0].contextWindow: must be a positive integer, got the string "1M"'),
        ({"models": [{"id": "a", "contextWindow": 0}]}, "field models[0].contextWindow: must be a positive integer, got the number 0"),
        ({"models": [{"id": "a", "supportsImages": "yes"}]}, 'field models[0].supportsImages: must be true or false, got the string "yes"'),
        ({"models": [{"displayName": "A"}]}, "field models[0].id: is required"),
        ({"models": [{"id": "a"}, {"id": "b", "aliases": ["a"]}]}, 'field models[1].aliases: model id "a" is already declared by models[0].id'),
        ({"models": [{"id": "a", "aliases": [""]}]}, "field models[0].aliases[0]: must be a non-empty string, got the string \"\""),
        ({"features": {"maxTokensField": "max_new_tokens"}}, 'field features.maxTokensField: must be one of "max_tokens", "max_completion_tokens", got "max_new_tokens"'),
        ({"features": {"reasoningReplay": "always"}}, 'field features.reasoningReplay: must be one of "strip", "keep", "required", "inline", got "always"'),
        ({"features": {"webSearch": 1}}, "field features.webSearch: must be true or false, got the number 1"),
        ({"features": []}, "field features: must be an object, got an array"),
    ],
)  # fmt: skip
def test_field_errors(tmp_path: Path, changes: dict[str, Any], expected: str) -> None:
    assert error_for(tmp_path, provider(**changes)) == f"<file>: provider 'qwen', {expected}"


def test_generic_env_errors() -> None:
    base = {"GENERIC_BASE_URL": "http://127.0.0.1:9/v1", "GENERIC_DEFAULT_MODEL": "m", "GENERIC_API_KEY": "k"}
    cases = {
        "GENERIC_BASE_URL": ("ftp://x", 'GENERIC_BASE_URL: provider \'generic\', field baseUrl: must start with http:// or https://, got "ftp://x"'),
        "GENERIC_WIRE_API": ("grpc", 'GENERIC_WIRE_API: provider \'generic\', field wireApi: must be one of "chat", "responses", got "grpc"'),
        "GENERIC_DEFAULT_MODEL": ("", "GENERIC_DEFAULT_MODEL: provider 'generic', field defaultModel: is required"),
        "GENERIC_SHORTCUT": ("a b", "GENERIC_SHORTCUT: provider 'generic', field shortcut: \"a b\" may only contain letters, digits, \"-\" and \"_\", and must start with a letter or digit"),
    }  # fmt: skip
    for name, (value, expected) in cases.items():
        with pytest.raises(ConfigError) as excinfo:
            load_settings({**base, name: value})
        assert str(excinfo.value) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MIMO2CODEX_PORT": "80000"}, "MIMO2CODEX_PORT='80000': a port is a number from 0 to 65535, got 80000"),
        ({"MIMO2CODEX_VERBOSE": "maybe"}, "MIMO2CODEX_VERBOSE='maybe': expected one of 1/0, true/false, yes/no, on/off, got 'maybe'"),
        ({"MIMO2CODEX_MAX_BODY": "lots"}, "MIMO2CODEX_MAX_BODY='lots': must be a size such as 64M, got 'lots'"),
        ({"MIMO2CODEX_DEFAULT_PROVIDER": "openai"}, "MIMO2CODEX_DEFAULT_PROVIDER=openai: no provider has that id or shortcut. Known providers: mimo, ds (deepseek)"),
    ],
)  # fmt: skip
def test_bad_settings(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"MIMO_API_KEY": "k", **env})
    assert str(excinfo.value) == expected


def test_unknown_default_from_the_flag() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"MIMO_API_KEY": "k"}, {"default_provider": "qwen"})
    assert (
        str(excinfo.value) == "--model=qwen: no provider has that id or shortcut. Known providers: mimo, ds (deepseek)"
    )


def test_default_without_key_names_the_variable_and_where_to_get_one() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings({})
    assert str(excinfo.value) == (
        "the default provider MiMo ('mimo') has no API key: set MIMO_API_KEY or pass --api-key. Get a key at "
        "https://platform.xiaomimimo.com/#/console/api-keys. To make another provider the default, pass "
        "--model <id|shortcut> or set MIMO2CODEX_DEFAULT_PROVIDER (no provider has a key yet)."
    )


def test_explicit_default_without_key_lists_the_keyed_providers() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"MIMO_API_KEY": "k", "MIMO2CODEX_DEFAULT_PROVIDER": "ds"})
    assert str(excinfo.value) == (
        "the default provider DeepSeek ('deepseek') has no API key: set DS_API_KEY or DEEPSEEK_API_KEY or pass "
        "--api-key. Get a key at https://platform.deepseek.com/api_keys. To make another provider the default, "
        "pass --model <id|shortcut> or set MIMO2CODEX_DEFAULT_PROVIDER (providers with a key: mimo)."
    )


def test_generic_default_without_key_says_where_its_key_comes_from(tmp_path: Path) -> None:
    path = write(tmp_path, provider())
    with pytest.raises(ConfigError) as excinfo:
        load_settings({"MIMO2CODEX_PROVIDERS_FILE": str(path), "MIMO2CODEX_DEFAULT_PROVIDER": "qwen"})
    assert str(excinfo.value).startswith(
        "the default provider qwen ('qwen') has no API key: set QWEN_API_KEY or pass --api-key. "
        "Get a key from the vendor of https://dashscope.example/v1."
    )


def test_public_bind_without_tokens() -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without inbound tokens"):
        load_settings({"MIMO_API_KEY": "k", "MIMO2CODEX_HOST": "0.0.0.0"})
    assert load_settings({"MIMO_API_KEY": "k", "MIMO2CODEX_HOST": "0.0.0.0", "MIMO2CODEX_AUTH_TOKENS": "t1,t2"})
