"""vision/backend.py: which vision model reads images for a text-only model."""

from __future__ import annotations

import pytest

from mimo2codex.catalog import codex_catalog
from mimo2codex.providers.base import ModelInfo, Provider
from mimo2codex.secret import Secret
from mimo2codex.settings import load_settings
from mimo2codex.vision.backend import NoBackend, VisionBackend, choose_backend, image_readers, parse_vision_model

SETTINGS = load_settings({"DS_API_KEY": "sk-d", "MIMO_API_KEY": "sk-m", "MIMO2CODEX_DEFAULT_PROVIDER": "ds"})
PROVIDERS = SETTINGS.providers
MIMO = next(p for p in PROVIDERS if p.id == "mimo")
DEEPSEEK = next(p for p in PROVIDERS if p.id == "deepseek")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("mimo/mimo-v2.5", "mimo/mimo-v2.5"), (" ds / x ", "ds/x"), ("Off", "off"), ("none", "off"), ("g/a/b", "g/a/b")],
)
def test_parse(raw: str, parsed: str) -> None:
    assert parse_vision_model(raw) == parsed


@pytest.mark.parametrize("raw", ["mimo", "/x", "mimo/", " / "])
def test_parse_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="expected PROVIDER/MODEL"):
        parse_vision_model(raw)


def test_default_is_the_routed_providers_own_vision_model() -> None:
    found = choose_backend(None, PROVIDERS, MIMO)
    assert isinstance(found, VisionBackend)
    assert (found.spec, found.label) == ("mimo/mimo-v2.5", "mimo-v2.5 on mimo")
    none = choose_backend(None, PROVIDERS, DEEPSEEK)
    assert isinstance(none, NoBackend)
    assert none.reason.startswith("DeepSeek has no vision model and none is configured")


def test_a_legacy_vision_model_is_the_last_choice() -> None:
    provider = Provider(
        "g",
        "G",
        "http://g/v1",
        Secret("k"),
        "t",
        models=(
            ModelInfo("old-eyes", supports_images=True, legacy=True),
            ModelInfo("t"),
            ModelInfo("new-eyes", supports_images=True),
        ),
    )
    found = choose_backend(None, (provider,), provider)
    assert isinstance(found, VisionBackend)
    assert found.model == "new-eyes"


def test_an_explicit_choice_serves_every_provider() -> None:
    for routed in (MIMO, DEEPSEEK):
        found = choose_backend("mimo/mimo-v2.5", PROVIDERS, routed)
        assert isinstance(found, VisionBackend)
        assert found.provider.id == "mimo"
    # Handles and aliases resolve; an open or unknown model id is the user's to choose.
    found = choose_backend("MIMO/mimo-v2-omni", PROVIDERS, DEEPSEEK)
    assert isinstance(found, VisionBackend)
    assert found.model == "mimo-v2-omni"


@pytest.mark.parametrize(
    ("choice", "reason"),
    [
        ("off", "the vision bridge is off (--vision-model off)"),
        ("qwen/qwen-vl", "--vision-model names provider 'qwen', which is not configured"),
        ("ds/deepseek-v4-pro", "--vision-model ds/deepseek-v4-pro: deepseek-v4-pro does not accept images"),
    ],
)
def test_no_backend_says_why(choice: str, reason: str) -> None:
    found = choose_backend(choice, PROVIDERS, DEEPSEEK)
    assert found == NoBackend(reason)


def test_a_keyless_vision_provider_cannot_read() -> None:
    keyless = load_settings({"DS_API_KEY": "sk-d", "MIMO2CODEX_DEFAULT_PROVIDER": "ds"}).providers
    found = choose_backend("mimo/mimo-v2.5", keyless, keyless[1])
    assert found == NoBackend("the vision model's provider MiMo has no API key")


def test_the_written_catalog_offers_images_only_where_they_get_read() -> None:
    def modalities(choice: str | None) -> dict[str, list[str]]:
        catalog = codex_catalog(PROVIDERS, reads_images=image_readers(choice, PROVIDERS))
        return {m["slug"]: m["input_modalities"] for m in catalog["models"]}

    assert modalities("mimo/mimo-v2.5")["deepseek-v4-pro"] == ["text", "image"]
    assert modalities(None)["deepseek-v4-pro"] == ["text"]
    assert modalities(None)["mimo-v2.5-pro"] == ["text", "image"]
    assert modalities("off")["mimo-v2.5-pro"] == ["text"]
    assert modalities("off")["mimo-v2.5"] == ["text", "image"]
    plain = codex_catalog(PROVIDERS)
    assert {m["slug"]: m["input_modalities"] for m in plain["models"]} == modalities("off")
