"""``mimo2codex pet``: a pet that passes Codex's loading checks, drawn locally or by an engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mimo2codex.skills.petdraw import cell_occupied
from mimo2codex.skills.petsheet import check_layout, check_manifest, check_sheet_size, spritesheet_path
from tests.fakes.image_services import FakeOpenAIImages, FakeSDWebUI
from tests.skills.conftest import Cli


def _assert_loads_in_codex(pet_dir: Path) -> dict[str, object]:
    """What Codex's load_pet_manifest does, with our stricter layout check on top."""
    pet_json = json.loads((pet_dir / "pet.json").read_text(encoding="utf-8"))
    sheet_path = pet_dir / check_manifest(pet_json)
    assert sheet_path.parent == pet_dir
    with Image.open(sheet_path) as sheet:
        assert sheet.format == "WEBP"
        check_sheet_size(*sheet.size)
        rgba = sheet.convert("RGBA")
    check_layout(lambda column, row: cell_occupied(rgba, column, row))
    return dict(pet_json)


def test_local_pet_is_written_where_codex_looks(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    result = cli("pet", "--description", "a small green robot with a round antenna", "--name", "Bolt", "--json")
    assert result.code == 0, result.explain()
    pet_dir = tmp_path / "codex" / "pets" / "bolt"
    assert result.json == {
        "ok": True,
        "command": "pet",
        "id": "bolt",
        "name": "Bolt",
        "engine": "local",
        "dir": str(pet_dir),
        "pet_json": str(pet_dir / "pet.json"),
        "spritesheet": str(pet_dir / "spritesheet.webp"),
    }
    assert _assert_loads_in_codex(pet_dir) == {
        "id": "bolt",
        "displayName": "Bolt",
        "description": "a small green robot with a round antenna",
        "spritesheetPath": "spritesheet.webp",
    }
    assert sorted(p.name for p in pet_dir.parent.iterdir()) == ["bolt"]  # no staging leftovers


def test_local_drawing_is_deterministic(cli: Cli, tmp_path: Path) -> None:
    args = ("pet", "--description", "a sleepy blue cat", "--codex-home")
    assert cli(*args, str(tmp_path / "a")).code == 0
    assert cli(*args, str(tmp_path / "b")).code == 0
    first = (tmp_path / "a" / "pets" / "a-sleepy-blue" / "spritesheet.webp").read_bytes()
    assert first == (tmp_path / "b" / "pets" / "a-sleepy-blue" / "spritesheet.webp").read_bytes()


def test_existing_pet_needs_force(cli: Cli, tmp_path: Path) -> None:
    home = str(tmp_path)
    assert cli("pet", "--description", "duck", "--id", "dewey", "--codex-home", home).code == 0
    again = cli("pet", "--description", "duck", "--id", "dewey", "--codex-home", home)
    assert again.code == 2
    assert "already exists; pass --force" in again.err
    assert cli("pet", "--description", "red duck", "--id", "dewey", "--codex-home", home, "--force").code == 0
    assert json.loads((tmp_path / "pets" / "dewey" / "pet.json").read_text())["description"] == "red duck"
    (tmp_path / "pets" / "mine").mkdir()
    foreign = cli("pet", "--description", "x", "--id", "mine", "--codex-home", home, "--force")
    assert foreign.code == 2
    assert "is not a pet" in foreign.err
    bad_id = cli("pet", "--description", "x", "--id", "../up", "--codex-home", home)
    assert bad_id.code == 2


@pytest.mark.live
def test_engine_character_is_cut_out_and_animated(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIImages().running() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
        result = cli("pet", "--description", "an orange fox", "--codex-home", str(tmp_path), "--json")
    assert result.code == 0, result.explain()
    assert result.json["engine"] == "openai"
    prompt = fake.requests[0].json()["prompt"]
    assert "an orange fox" in prompt
    assert "plain white background" in prompt
    pet_dir = Path(result.json["dir"])
    _assert_loads_in_codex(pet_dir)
    with Image.open(pet_dir / "spritesheet.webp") as sheet:
        corner = sheet.convert("RGBA").getpixel((2, 2))
    assert corner == (0, 0, 0, 0)  # the white background was cut away


@pytest.mark.live
def test_engine_failure_falls_back_only_under_auto(cli: Cli, tmp_path: Path) -> None:
    with FakeSDWebUI(api=False).running() as fake:
        auto = cli("pet", "--description", "owl", "--sd-url", fake.url, "--codex-home", str(tmp_path), "--json")
        chosen = cli(
            "pet",
            "--description",
            "owl",
            "--id",
            "owl2",
            "--engine",
            "sd-webui",
            "--sd-url",
            fake.url,
            "--codex-home",
            str(tmp_path),
        )
    assert auto.code == 0, auto.explain()
    assert auto.json["engine"] == "local"
    assert "sd-webui failed" in auto.err
    assert "drawing the pet locally" in auto.err
    assert chosen.code == 1
    assert "start the web UI with --api" in chosen.err
    assert not (tmp_path / "pets" / "owl2").exists()


def test_missing_key_for_a_chosen_engine(cli: Cli, tmp_path: Path) -> None:
    result = cli("pet", "--description", "x", "--engine", "openai", "--codex-home", str(tmp_path))
    assert result.code == 3
    assert "OPENAI_API_KEY" in result.err


def test_spritesheet_path_default() -> None:
    assert spritesheet_path({}) == "spritesheet.webp"


def test_without_pillow_the_hint_names_the_extra(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import mimo2codex.skills

    monkeypatch.delitem(sys.modules, "mimo2codex.skills.petdraw", raising=False)
    monkeypatch.delattr(mimo2codex.skills, "petdraw", raising=False)
    for name in [n for n in sys.modules if n == "PIL" or n.startswith("PIL.")] + ["PIL"]:
        monkeypatch.setitem(sys.modules, name, None)  # what an install without the [pets] extra looks like
    result = cli("pet", "--description", "x", "--codex-home", str(tmp_path), "--json")
    assert result.code == 2
    assert result.json["error"]["message"] == "the pet command draws with Pillow: pip install 'mimo2codex[pets]'"
    assert not (tmp_path / "pets").exists()
