"""The Codex model catalog: Codex's ModelInfo format, served over HTTP and written to a file."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from mimo2codex.catalog import CATALOG_PATH, catalog_providers, codex_catalog, write_catalog
from mimo2codex.server import create_app
from mimo2codex.settings import Settings, load_settings

#: fields Codex 0.169.0 refuses a catalog entry without (tests/fakes/README.md, CONTRACT §3.1)
REQUIRED = {
    "slug",
    "display_name",
    "supported_reasoning_levels",
    "shell_type",
    "visibility",
    "supported_in_api",
    "priority",
    "support_verbosity",
    "truncation_policy",
    "experimental_supported_tools",
    "base_instructions",
}


def settings(tmp_path: Path, **env: str) -> Settings:
    (tmp_path / "providers.json").write_text(
        json.dumps(
            {
                "providers": [
                    {"id": "qwen", "baseUrl": "http://127.0.0.1:9/v1", "envKey": "QWEN_API_KEY", "defaultModel": "q",
                     "models": [{"id": "q", "contextWindow": 262144}, {"id": "mimo-v2.5", "supportsImages": True}]},
                    {"id": "ollama", "baseUrl": "http://127.0.0.1:9/v1", "envKey": "OLLAMA_API_KEY", "defaultModel": "llama3"},
                ]
            }
        )
    )  # fmt: skip
    return load_settings({"MIMO2CODEX_DATA_DIR": str(tmp_path), **env})


def entries(settings: Settings) -> dict[str, dict[str, object]]:
    catalog = codex_catalog(catalog_providers(settings.providers, settings.default))
    return {entry["slug"]: entry for entry in catalog["models"]}


def test_entries_give_apply_patch_and_the_true_window(tmp_path: Path) -> None:
    models = entries(settings(tmp_path, MIMO_API_KEY="k", QWEN_API_KEY="q", OLLAMA_API_KEY="o"))
    assert all(set(e) >= REQUIRED for e in models.values())
    assert {e["apply_patch_tool_type"] for e in models.values()} == {"freeform"}
    assert models["mimo-v2.5-pro"]["context_window"] == 131072
    assert models["mimo-v2.5-pro[1m]"]["context_window"] == 1_000_000
    assert models["mimo-v2.5-pro"]["input_modalities"] == ["text"]
    assert models["mimo-v2-omni"]["input_modalities"] == ["text", "image"]
    assert models["mimo-v2-pro"]["visibility"] == "hide"  # legacy: usable, not offered
    assert models["q"]["context_window"] == 262144
    assert "context_window" not in models["llama3"]  # open catalog: unknown, Codex's default applies
    assert [e["priority"] for e in models.values()] == list(range(1, len(models) + 1))


def test_a_model_id_is_listed_once_and_generics_win(tmp_path: Path) -> None:
    models = entries(settings(tmp_path, MIMO_API_KEY="k", QWEN_API_KEY="q"))
    assert models["mimo-v2.5"]["description"] == "qwen through mimo2codex"  # routing sends it to qwen too
    assert next(iter(models)) == "q"


def test_only_providers_with_a_key_and_the_chosen_one(tmp_path: Path) -> None:
    models = entries(settings(tmp_path, DS_API_KEY="k", MIMO2CODEX_DEFAULT_PROVIDER="ds"))
    assert set(models) == {"deepseek-v4-pro", "deepseek-v4-flash", "deepseek-chat", "deepseek-reasoner"}
    keyless = load_settings({"MIMO2CODEX_DATA_DIR": str(tmp_path / "none")}, serving=False)
    assert set(entries(keyless)) >= {"mimo-v2.5-pro"}


def test_served_for_model_catalog_url(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, MIMO_API_KEY="k"))
    with TestClient(app, base_url="http://127.0.0.1:8788") as client:
        response = client.get(CATALOG_PATH, params={"client_version": "0.169.0"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    slugs = [m["slug"] for m in response.json()["models"]]
    assert slugs[0] == "mimo-v2.5-pro"
    assert "q" not in slugs


def test_write_catalog_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "codex-models.json"
    write_catalog(target, {"models": []})
    write_catalog(target, {"models": [{"slug": "x"}]})
    assert json.loads(target.read_text()) == {"models": [{"slug": "x"}]}
    assert [p.name for p in target.parent.iterdir()] == ["codex-models.json"]
