"""Acceptance 3 of the images issue: the skill ``mimo2codex skill install`` writes is one the real
Codex CLI 0.169.0 lists, proved by what Codex puts in front of the model; uninstall removes it all.

The skill goes to ``$HOME/.agents/skills/mimo2codex`` (user scope) or ``<project>/.agents/skills``
(project scope): the roots ``codex-rs/core-skills/src/loader.rs`` scans.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mimo2codex.cli import main
from mimo2codex.skills import installer
from tests.fakes.codex_cli import CodexCLI, CodexConfig
from tests.fakes.responses_capture import CapturingResponses

pytestmark = [pytest.mark.codex, pytest.mark.live]


def _texts(body: dict[str, object]) -> str:
    """Everything Codex showed the model: its instructions and the text of every input item."""
    parts = [str(body.get("instructions", ""))]
    for item in body.get("input", []):  # type: ignore[union-attr]
        for part in item.get("content", []) if isinstance(item, dict) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "\n".join(parts)


def _description() -> str:
    return installer.check_front_matter(installer.skill_files()["SKILL.md"].decode())["description"]


@pytest.mark.parametrize("scope", ["user", "project"])
def test_codex_lists_the_installed_skill(
    scope: str, codex_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert main(["skill", "install", "--target", "codex", "--scope", scope, "--project-dir", str(work)]) == 0
    skill_md = (home if scope == "user" else work) / ".agents" / "skills" / "mimo2codex" / "SKILL.md"
    assert skill_md.is_file()

    with CapturingResponses("done").running() as server:
        codex = CodexCLI(tmp_path / "codex-home", work, CodexConfig(base_url=f"{server.url}/v1"), binary=codex_bin)
        result = codex.run("say done", env={"HOME": str(home)}, timeout=60)
        assert result.ok, result.explain()
        seen = _texts(server.bodies[0])
        # Without the skill, nothing of it reaches the model: the listing comes from the install.
        assert main(["skill", "uninstall", "--target", "codex", "--scope", scope, "--project-dir", str(work)]) == 0
        without = codex.run("say done", env={"HOME": str(home)}, timeout=60)
        assert without.ok, without.explain()
        unseen = _texts(server.bodies[1])

    # Codex 0.169.0 lists skills in a developer message: a table of roots, then one line per skill.
    entry = re.search(r"- mimo2codex: (.+?) \(file: (r\d+)/mimo2codex/SKILL\.md\)", seen)
    assert entry is not None, seen[:3000]
    assert entry.group(1) == _description()
    root = re.search(rf"- `{entry.group(2)}` = `([^`]+)`", seen)
    assert root is not None
    assert Path(root.group(1)).resolve() == skill_md.parent.parent.resolve()
    assert "- mimo2codex:" not in unseen
    after = sorted(str(p) for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "codex-home"))
    assert after == before
