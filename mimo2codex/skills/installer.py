"""Installing the mimo2codex skill where Codex and Claude Code look for skills, and removing it.

Where (checked against the openai/codex source, ``codex-rs/core-skills/src/loader.rs``: the user
root ``$HOME/.agents/skills``, and ``.agents/skills`` in each directory from the project root down
to the working directory; Codex skips dot-files while scanning, so our manifest is invisible to it):

=========  ================================  ==================================
target     ``--scope user``                  ``--scope project``
=========  ================================  ==================================
codex      ``~/.agents/skills/mimo2codex``   ``<project>/.agents/skills/mimo2codex``
claude     ``~/.claude/skills/mimo2codex``   ``<project>/.claude/skills/mimo2codex``
=========  ================================  ==================================

Each installed copy holds a manifest (:data:`MANIFEST_NAME`): the version, the sha256 of every file
written and the directories the install created. ``uninstall`` removes exactly those, and nothing
is overwritten or removed that changed since, or that another tool put there, without ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mimo2codex import __version__
from mimo2codex.skills.failure import UsageError

SKILL_NAME = "mimo2codex"
MANIFEST_NAME = ".mimo2codex-skill.json"
TARGETS = ("codex", "claude")
SCOPES = ("user", "project")
_ROOTS = {"codex": (".agents", "skills"), "claude": (".claude", "skills")}
#: Codex's limits (``MAX_NAME_LEN``, ``MAX_DESCRIPTION_LEN`` in loader.rs); Claude Code's are the same
MAX_NAME = 64
MAX_DESCRIPTION = 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class Destination:
    target: str
    scope: str
    path: Path

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST_NAME

    def describe(self) -> dict[str, str]:
        return {"target": self.target, "scope": self.scope, "path": str(self.path)}


def destinations(target: str, scope: str, *, home: Path, project: Path) -> list[Destination]:
    base = home if scope == "user" else project
    chosen = TARGETS if target == "both" else (target,)
    return [Destination(t, scope, base.joinpath(*_ROOTS[t], SKILL_NAME)) for t in chosen]


def console_command() -> str:
    """How the skill calls us: the installed console script by absolute path when it can be found."""
    beside = Path(sys.executable).parent / ("mimo2codex.exe" if os.name == "nt" else "mimo2codex")
    if beside.is_file():
        return shlex.quote(str(beside))
    found = shutil.which("mimo2codex")
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m mimo2codex"


def _data_files() -> Iterator[tuple[str, bytes]]:
    root = resources.files("mimo2codex.skills") / "data"

    def walk(node: Any, prefix: str) -> Iterator[tuple[str, bytes]]:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                yield from walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".md"):
                yield f"{prefix}{child.name}", child.read_bytes()

    yield from walk(root, "")


def skill_files(command: str | None = None) -> dict[str, bytes]:
    """The skill's files, rendered: relative path -> bytes."""
    command = command or console_command()
    rendered = {}
    for name, raw in _data_files():
        text = raw.decode("utf-8").replace("{{MIMO2CODEX}}", command).replace("{{VERSION}}", __version__)
        rendered[name] = text.encode("utf-8")
    if "SKILL.md" not in rendered:
        raise UsageError("this mimo2codex installation lacks its SKILL.md (reinstall the package)")
    check_front_matter(rendered["SKILL.md"].decode("utf-8"))
    return rendered


def front_matter(text: str) -> dict[str, str]:
    """The ``key: value`` lines between the leading ``---`` markers (plain one-line scalars)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise UsageError("SKILL.md has no front matter (it must start with ---)")
    values: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() == "---":
            return values
        key, colon, value = line.partition(":")
        if colon and key.strip() and not key.startswith(" "):
            values[key.strip()] = value.strip().strip('"').strip("'")
    raise UsageError("SKILL.md's front matter is not closed by ---")


def check_front_matter(text: str) -> dict[str, str]:
    values = front_matter(text)
    name, description = values.get("name", ""), values.get("description", "")
    if not name or len(name) > MAX_NAME or not _NAME.match(name):
        raise UsageError(f"SKILL.md: name must be 1-{MAX_NAME} lowercase letters, digits or dashes (got {name!r})")
    if not description or len(description) > MAX_DESCRIPTION:
        raise UsageError(f"SKILL.md: description must be 1-{MAX_DESCRIPTION} characters (it is {len(description)})")
    if ": " in description:
        raise UsageError("SKILL.md: the description must not contain ': ' (YAML would misread it)")
    return values


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class State:
    #: absent | installed | modified | foreign
    kind: str
    version: str | None = None
    changed: list[str] = field(default_factory=list)
    recorded: dict[str, Any] = field(default_factory=dict)


def inspect(dest: Destination) -> State:
    if not dest.path.exists():
        return State("absent")
    try:
        recorded = json.loads(dest.manifest.read_text(encoding="utf-8"))
        files = recorded["files"]
        assert isinstance(files, dict)
    except (OSError, ValueError, KeyError, AssertionError, TypeError):
        return State("foreign")
    changed = []
    for name, digest in files.items():
        try:
            if _sha256((dest.path / name).read_bytes()) != digest:
                changed.append(name)
        except OSError:
            changed.append(name)
    return State("modified" if changed else "installed", recorded.get("version"), changed, recorded)


def _refusal(dest: Destination, state: State, verb: str) -> UsageError:
    if state.kind == "foreign":
        why = "holds a skill mimo2codex did not install"
    else:
        why = f"was changed since mimo2codex installed it ({', '.join(state.changed)})"
    return UsageError(f"{dest.path} {why}; not {verb} it without --force")


def check_untouched(dests: list[Destination], *, verb: str, force: bool) -> None:
    """Refuses (before anything is written) when a destination holds a changed or foreign skill."""
    if force:
        return
    for dest in dests:
        state = inspect(dest)
        if state.kind in ("foreign", "modified"):
            raise _refusal(dest, state, verb)


def install(dest: Destination, files: dict[str, bytes], *, force: bool) -> str:
    """Writes the skill; returns "installed", "updated" or "unchanged"."""
    state = inspect(dest)
    if state.kind in ("foreign", "modified") and not force:
        raise _refusal(dest, state, "overwriting")
    previous: dict[str, str] = dict(state.recorded.get("files", {}))
    created: list[str] = list(state.recorded.get("created_dirs", []))
    wanted = {name: _sha256(data) for name, data in files.items()}
    if state.kind == "installed" and previous == wanted and state.version == __version__:
        return "unchanged"
    try:
        for name, data in files.items():
            path = dest.path / name
            created += _make_dirs(path.parent)
            path.write_bytes(data)
        for name in set(previous) - set(files):  # dropped by this version
            (dest.path / name).unlink(missing_ok=True)
        record = {
            "name": SKILL_NAME,
            "version": __version__,
            "installed_by": "mimo2codex skill install",
            "files": wanted,
            "created_dirs": created,
        }
        dest.manifest.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {dest.path}: {exc.strerror or exc}") from None
    return "installed" if state.kind == "absent" or not previous else "updated"


def _make_dirs(path: Path) -> list[str]:
    """Creates ``path`` and its missing parents; the ones it created, outermost first."""
    missing = []
    node = path
    while not node.exists():
        missing.append(node)
        node = node.parent
    for directory in reversed(missing):
        directory.mkdir()
    return [str(d) for d in reversed(missing)]


def uninstall(dest: Destination, *, force: bool) -> str:
    """Removes what :func:`install` wrote; returns "removed", "absent" or "kept (foreign)"."""
    state = inspect(dest)
    if state.kind == "absent":
        return "absent"
    if state.kind == "foreign":
        if not force:
            raise _refusal(dest, state, "removing")
        return "kept (not installed by mimo2codex)"
    if state.kind == "modified" and not force:
        raise _refusal(dest, state, "removing")
    try:
        for name in state.recorded["files"]:
            (dest.path / name).unlink(missing_ok=True)
        dest.manifest.unlink(missing_ok=True)
        # Only the directories the install created, innermost first, and only when empty.
        for directory in sorted(state.recorded.get("created_dirs", []), key=len, reverse=True):
            path = Path(directory)
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    except OSError as exc:
        raise UsageError(f"cannot remove {dest.path}: {exc.strerror or exc}") from None
    return "removed"
