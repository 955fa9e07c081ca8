"""``mimo2codex skill install|uninstall|status``: where the skill goes, and exact removal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimo2codex import __version__
from mimo2codex.skills import installer
from tests.skills.conftest import Cli

CODEX_DIR = Path(".agents/skills/mimo2codex")
CLAUDE_DIR = Path(".claude/skills/mimo2codex")
FILES = ["SKILL.md", "references/chat.md", "references/image.md", "references/ocr.md", "references/pet.md"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def test_the_packaged_skill_is_valid() -> None:
    files = installer.skill_files("/opt/bin/mimo2codex")
    assert sorted(files) == FILES
    text = files["SKILL.md"].decode()
    meta = installer.check_front_matter(text)
    assert meta["name"] == "mimo2codex"
    assert 0 < len(meta["description"]) <= 1024
    assert "/opt/bin/mimo2codex ocr" in text
    assert "{{" not in text
    assert "sandbox may block network access" in text
    assert "vision bridge needs no network from you" in text
    for name in FILES[1:]:
        assert b"/opt/bin/mimo2codex" in files[name]


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("name: Mimo Tools\ndescription: x", "name must be 1-64 lowercase"),
        ("name: " + "a" * 65 + "\ndescription: x", "name must be 1-64"),
        ("name: ok\ndescription: " + "x" * 1025, "description must be 1-1024"),
        ("name: ok", "description must be 1-1024"),
    ],
)
def test_front_matter_limits(front: str, message: str) -> None:
    with pytest.raises(installer.UsageError, match=message):
        installer.check_front_matter(f"---\n{front}\n---\nbody\n")


def test_install_both_then_uninstall_restores_the_tree(cli: Cli, home: Path) -> None:
    (home / ".claude").mkdir()  # Claude Code was installed: its directory must survive uninstall
    (home / ".claude" / "settings.json").write_text("{}")
    before = _tree(home)
    result = cli("skill", "install", "--json")
    assert result.code == 0, result.explain()
    assert [(d["target"], d["scope"], d["action"]) for d in result.json["destinations"]] == [
        ("codex", "user", "installed"),
        ("claude", "user", "installed"),
    ]
    for where in (CODEX_DIR, CLAUDE_DIR):
        assert sorted(str(p.relative_to(home / where)) for p in (home / where).rglob("*.md")) == FILES
        record = json.loads((home / where / installer.MANIFEST_NAME).read_text())
        assert record["version"] == __version__
        assert sorted(record["files"]) == FILES
    status = cli("skill", "status")
    assert status.out.split("\n")[0].split() == ["codex", "user", "installed", __version__, str(home / CODEX_DIR)]
    again = cli("skill", "install", "--target", "codex", "--json")
    assert again.json["destinations"][0]["action"] == "unchanged"
    removed = cli("skill", "uninstall")
    assert removed.code == 0, removed.explain()
    assert _tree(home) == before
    assert cli("skill", "uninstall", "--json").json["destinations"][0]["action"] == "absent"


def test_changed_or_foreign_skills_are_not_touched_without_force(cli: Cli, home: Path) -> None:
    assert cli("skill", "install", "--target", "codex").code == 0
    skill_md = home / CODEX_DIR / "SKILL.md"
    skill_md.write_text(skill_md.read_text() + "\nmy own note\n")
    refused = cli("skill", "install", "--target", "codex")
    assert refused.code == 2
    assert "was changed since mimo2codex installed it (SKILL.md); not overwriting it without --force" in refused.err
    assert cli("skill", "status", "--json").json["destinations"][0]["state"] == "modified"
    assert cli("skill", "uninstall", "--target", "codex").code == 2
    assert skill_md.exists()
    assert cli("skill", "install", "--target", "codex", "--force").code == 0
    assert cli("skill", "status", "--json").json["destinations"][0]["state"] == "installed"

    foreign = home / CLAUDE_DIR
    foreign.mkdir(parents=True)
    (foreign / "SKILL.md").write_text("---\nname: mimo2codex\ndescription: someone else's\n---\n")
    both = cli("skill", "install")
    assert both.code == 2
    assert "holds a skill mimo2codex did not install" in both.err
    assert (home / CODEX_DIR / "SKILL.md").exists()  # a refusal leaves every destination as it was
    assert cli("skill", "uninstall", "--target", "claude").code == 2
    assert (foreign / "SKILL.md").read_text().endswith("someone else's\n---\n")


def test_project_scope(cli: Cli, home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    result = cli("skill", "install", "--scope", "project", "--project-dir", str(project), "--json")
    assert result.code == 0, result.explain()
    assert [d["path"] for d in result.json["destinations"]] == [str(project / CODEX_DIR), str(project / CLAUDE_DIR)]
    assert (project / CODEX_DIR / "SKILL.md").is_file()
    assert not (home / ".agents").exists()
    assert cli("skill", "uninstall", "--scope", "project", "--project-dir", str(project)).code == 0
    assert list(project.iterdir()) == []
