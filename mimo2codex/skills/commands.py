"""The helper commands, for :data:`mimo2codex.subcommands.SUBCOMMANDS` (one module per command)."""

from __future__ import annotations

from mimo2codex.skills import chat, image, ocr, pet, skill
from mimo2codex.subcommands import Subcommand

COMMANDS: tuple[Subcommand, ...] = (ocr.COMMAND, image.COMMAND, chat.COMMAND, pet.COMMAND, skill.COMMAND)
