"""``mimo2codex skill install|uninstall|status``: the skill that teaches Codex and Claude Code the
helper commands (see :mod:`.installer` for where it goes and how removal stays exact).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mimo2codex import __version__
from mimo2codex.settings import Settings
from mimo2codex.skills import installer
from mimo2codex.skills.failure import emit_json, guarded
from mimo2codex.subcommands import Subcommand


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="skill_action", metavar="ACTION", required=True)
    for action, text in (
        ("install", "copy the skill where Codex / Claude Code read skills"),
        ("uninstall", "remove exactly what install wrote"),
        ("status", "show where the skill is installed"),
    ):
        sub = actions.add_parser(action, help=text, allow_abbrev=False)
        sub.add_argument("--target", choices=(*installer.TARGETS, "both"), default="both", help="default both")
        sub.add_argument("--scope", choices=installer.SCOPES, default="user", help="default user")
        sub.add_argument(
            "--project-dir", type=Path, default=None, metavar="DIR", help="the project for --scope project (default .)"
        )
        sub.add_argument("--json", action="store_true", help="print one JSON object")
        if action != "status":
            sub.add_argument("--force", action="store_true", help="overwrite or remove a changed or foreign skill")


def run(args: argparse.Namespace, settings: Settings) -> int:
    dests = installer.destinations(
        args.target,
        args.scope,
        home=Path.home(),
        project=(args.project_dir or Path.cwd()).resolve(),
    )
    reports: list[dict[str, Any]] = []
    if args.skill_action == "install":
        files = installer.skill_files()
        # Every destination is checked before any is written: a refusal must not leave half an install.
        installer.check_untouched(dests, verb="overwriting", force=args.force)
        for dest in dests:
            action = installer.install(dest, files, force=args.force)
            reports.append({**dest.describe(), "action": action, "files": sorted(files)})
    elif args.skill_action == "uninstall":
        installer.check_untouched(dests, verb="removing", force=args.force)
        for dest in dests:
            reports.append({**dest.describe(), "action": installer.uninstall(dest, force=args.force)})
    else:
        for dest in dests:
            state = installer.inspect(dest)
            reports.append({**dest.describe(), "state": state.kind, "version": state.version, "changed": state.changed})
    if args.json:
        emit_json(
            {"ok": True, "command": f"skill {args.skill_action}", "version": __version__, "destinations": reports}
        )
        return 0
    rows = [(r["target"], r["scope"], r.get("action") or _status_text(r), r["path"]) for r in reports]
    width = max(len(row[2]) for row in rows)
    for target, scope, what, path in rows:
        print(f"{target:<6} {scope:<7} {what:<{width}}  {path}")
    return 0


def _status_text(report: dict[str, Any]) -> str:
    state = str(report["state"])
    if state in ("installed", "modified"):
        return f"{state} {report['version']}"
    return state


COMMAND = Subcommand(
    name="skill",
    help="install the mimo2codex skill for Codex and Claude Code (install, uninstall, status)",
    configure=configure,
    run=guarded("skill", run),
)
