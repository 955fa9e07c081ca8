"""The registry of subcommands beyond the gateway's own (``print-config`` and friends live in cli.py).

Each area owns its commands in its own module and lists them here by import path, so the CLI stays
a thin dispatcher and ``mimo2codex --help`` does not import every area at start-up:

>>> [spec.split(":")[0] for spec in SUBCOMMANDS][:1]  # doctest: +SKIP
['mimo2codex.store.commands']

A spec ``"package.module:NAME"`` names a :class:`Subcommand` (or a tuple of them).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mimo2codex.settings import Settings


@dataclass(frozen=True, slots=True)
class Subcommand:
    name: str
    help: str
    #: adds the command's own arguments (and nested sub-parsers) to its parser
    configure: Callable[[argparse.ArgumentParser], None]
    #: runs it; returns the exit code (0 ok, 1 upstream/network/IO failure, 2 bad usage or input)
    run: Callable[[argparse.Namespace, Settings], int]
    #: False: settings are loaded without requiring the default provider's key (serving=False)
    needs_key: bool = False


#: import paths of the areas' subcommands, in ``--help`` order
SUBCOMMANDS: tuple[str, ...] = (
    "mimo2codex.codex_setup:CODEX",
    "mimo2codex.skills.commands:COMMANDS",
    "mimo2codex.store.commands:COMMANDS",
)


def load_subcommands() -> Iterator[Subcommand]:
    for spec in SUBCOMMANDS:
        module_name, _, attribute = spec.partition(":")
        found = getattr(importlib.import_module(module_name), attribute)
        yield from found if isinstance(found, tuple) else (found,)
