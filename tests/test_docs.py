"""Docs are generated or checked, never hand-synced.

- The README's (and README.zh's) settings table, model tables and Codex snippets are generated from
  the code; this test fails when they drift. Regenerate with ``UPDATE_DOCS=1 pytest tests/test_docs.py``
  (or ``python -m mimo2codex.settings --markdown`` for the settings table alone) and review the diff.
- The generic-providers guide (English and Chinese) explains every startup error and warning message
  the code can print, and every field of providers.json.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mimo2codex.config_problems import PROBLEMS
from mimo2codex.providers import config_file, deepseek, mimo
from mimo2codex.providers.base import ModelInfo
from mimo2codex.settings import load_settings, settings_table
from mimo2codex.snippets import render_snippets

ROOT = Path(__file__).resolve().parents[1]
READMES = [ROOT / "README.md", ROOT / "README.zh.md"]
GUIDES = [ROOT / "docs" / "generic-providers.md", ROOT / "docs" / "generic-providers.zh.md"]
UPDATE = os.environ.get("UPDATE_DOCS") == "1"
#: a data dir that does not exist: the examples must not depend on the machine's providers.json
NOWHERE = "/nonexistent/mimo2codex-docs"


def _models_table(models: tuple[ModelInfo, ...], default: str, web_search: bool) -> str:
    lines = [
        "| Model | Context window | Max output | Images | Thinking | Web search |",
        "|---|---:|---:|---|---|---|",
    ]
    for info in models:
        name = f"`{info.id}`" + (" (default)" if info.id == default else "") + (" (legacy)" if info.legacy else "")
        lines.append(
            f"| {name} | {info.context_window:,} | {info.max_output_tokens:,} | "
            f"{'yes' if info.supports_images else '—'} | {'yes' if info.supports_reasoning else '—'} | "
            f"{'opt-in' if web_search and info.supports_web_search else '—'} |"
        )
    return "\n".join(lines) + "\n"


def _fenced(language: str, text: str) -> str:
    return f"```{language}\n{text}```\n"


def _quickstart() -> str:
    env = {
        "GENERIC_BASE_URL": "https://api.example.com/v1",
        "GENERIC_API_KEY": "sk-...",
        "GENERIC_DEFAULT_MODEL": "my-model",
        "MIMO2CODEX_DATA_DIR": NOWHERE,
    }
    return _fenced("toml", render_snippets(load_settings(env)).config_toml_env_key)


def _print_config_mimo() -> str:
    settings = load_settings({"MIMO2CODEX_DATA_DIR": NOWHERE}, serving=False)
    return _fenced("text", render_snippets(settings, "mimo").print_config())


GENERATED: dict[str, Callable[[], str]] = {
    "quickstart": _quickstart,
    "models-mimo": lambda: _models_table(mimo.MODELS, "mimo-v2.5-pro", web_search=True),
    "models-deepseek": lambda: _models_table(deepseek.MODELS, "deepseek-v4-pro", web_search=False),
    "print-config-mimo": _print_config_mimo,
}

_BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.DOTALL)
_SETTINGS = re.compile(r"(<!-- settings-table:start -->\n)(?P<body>.*?)(<!-- settings-table:end -->)", re.DOTALL)


def _sync(text: str) -> str:
    """``text`` with every generated block regenerated."""
    text = _SETTINGS.sub(lambda m: m.group(1) + settings_table() + m.group(3), text)
    return _BLOCK.sub(lambda m: m.group(1) + GENERATED[m.group("name")]() + m.group(4), text)


@pytest.mark.parametrize("path", READMES, ids=lambda p: p.name)
def test_generated_blocks_are_in_sync(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    names = {m.group("name") for m in _BLOCK.finditer(text)}
    assert names == set(GENERATED), f"{path.name} must contain every generated block"
    assert _SETTINGS.search(text), f"{path.name} lost its settings-table markers"
    expected = _sync(text)
    if UPDATE and expected != text:
        path.write_text(expected, encoding="utf-8")
        return
    assert text == expected, f"{path.name} drifted from the code: run UPDATE_DOCS=1 pytest tests/test_docs.py"


def test_the_chinese_readme_mirrors_every_section() -> None:
    english, chinese = (p.read_text(encoding="utf-8") for p in READMES)
    assert len(re.findall(r"^## ", english, re.MULTILINE)) == len(re.findall(r"^## ", chinese, re.MULTILINE))
    assert len(re.findall(r"^### ", english, re.MULTILINE)) == len(re.findall(r"^### ", chinese, re.MULTILINE))
    assert "README.zh.md" in english
    assert "README.md" in chinese


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_troubleshooting_explains_every_startup_message(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    missing = [p.code for p in PROBLEMS.values() if p.template not in text]
    assert missing == [], f"{path.name} does not quote these messages verbatim: {missing}"


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_every_providers_json_field_is_documented(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    features = {
        "forceParallelToolCalls",
        "webSearch",
        "extractThinkTags",
        "supportsReasoningEffort",
        "dropFields",
        "maxTokensField",
        "reasoningReplay",
        "extraBody",
        *config_file._DROP_SWITCHES,
        *config_file._ALWAYS_ON,
        *config_file._UNSUPPORTED,
    }
    fields = config_file._PROVIDER_FIELDS | config_file._MODEL_FIELDS | features | {"forceDefaultModel"}
    fields |= {"GENERIC_BASE_URL", "GENERIC_API_KEY", "GENERIC_DEFAULT_MODEL", "GENERIC_SHORTCUT"}
    fields |= {"GENERIC_DISPLAY_NAME", "GENERIC_WIRE_API", "MIMO2CODEX_PROVIDERS_FILE"}
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert missing == [], f"{path.name} does not document: {missing}"


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_the_guide_has_the_vendor_examples(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for vendor in ("Qwen", "GLM", "Kimi", "Ollama", "LM Studio", '"wireApi": "responses"'):
        assert vendor in text, vendor
