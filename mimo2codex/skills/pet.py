"""``mimo2codex pet --description …``: a pet Codex loads, in ``${CODEX_HOME:-~/.codex}/pets/<id>/``.

The character comes from an image engine (``--engine``; ``auto`` tries the engines that have a key
or a URL, never keyless Pollinations) or is drawn locally, offline and deterministically
(``--engine local``, and the fallback when ``auto``'s engine fails). The sheet and ``pet.json`` pass
Codex's own checks (:mod:`.petsheet`) before anything is written; the directory appears at once
(written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from mimo2codex.protocol.images import dimensions, sniff_format
from mimo2codex.settings import Settings
from mimo2codex.skills.engines import ENGINES, EngineOptions, ImageJob, choose_engine
from mimo2codex.skills.failure import ServiceError, ToolError, UsageError, emit_json, guarded
from mimo2codex.skills.http_client import HttpClient
from mimo2codex.skills.petsheet import (
    MANIFEST,
    PetFormatError,
    check_layout,
    check_manifest,
    check_sheet_size,
    manifest,
)
from mimo2codex.subcommands import Subcommand

ENGINE_CHOICES = ("auto", "local", *ENGINES)
#: engines ``auto`` may use for a pet: the keyless public one only when asked by name
AUTO_ENGINES = tuple(name for name in ENGINES if name != "pollinations")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]?$")
PILLOW_HINT = "the pet command draws with Pillow: pip install 'mimo2codex[pets]'"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--description", required=True, metavar="TEXT", help="what the pet looks like")
    parser.add_argument("--name", metavar="NAME", help="display name (default: from the description)")
    parser.add_argument("--id", dest="pet_id", metavar="ID", help="directory name under pets/ (default: from the name)")
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default="auto", help="who draws it (default auto)")
    parser.add_argument("--image-model", metavar="MODEL", help="the engine's model")
    parser.add_argument("--sd-url", metavar="URL", help="AUTOMATIC1111 web UI (default $MIMO2CODEX_SD_WEBUI_URL)")
    parser.add_argument("--seed", type=int, default=0, help="varies the local drawing (and the engine's seed)")
    parser.add_argument("--codex-home", type=Path, metavar="DIR", help="default $CODEX_HOME, else ~/.codex")
    parser.add_argument("--force", action="store_true", help="replace an existing pet with the same id")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def slug(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:40].rstrip("-") or "pet"


def codex_home(args: argparse.Namespace) -> Path:
    if args.codex_home is not None:
        return Path(args.codex_home).expanduser()
    env = os.environ.get("CODEX_HOME", "").strip()
    return Path(env).expanduser() if env else Path("~/.codex").expanduser()


def _prompt(description: str) -> str:
    return (
        f"A single cute mascot character for a desktop pet: {description}. Full body, facing the viewer, "
        "centered, simple flat colors with a dark outline, plain white background, no text, no shadow."
    )


def character_image(args: argparse.Namespace, settings: Settings) -> tuple[Any, str]:
    """(Pillow image, engine used)."""
    from mimo2codex.skills import petdraw

    names: tuple[str, ...]
    if args.engine == "local":
        names = ()
    elif args.engine == "auto":
        options = EngineOptions(sd_url=args.sd_url)
        names = tuple(n for n in AUTO_ENGINES if ENGINES[n].configured(os.environ, options))
    else:
        names = (args.engine,)
    http = HttpClient(timeout=settings.first_byte_timeout, use_proxy=settings.use_proxy)
    for name in names:
        job = ImageJob(_prompt(args.description), size=(1024, 1024), seed=args.seed or None, model=args.image_model)
        try:
            engine = choose_engine(name, os.environ, http, EngineOptions(sd_url=args.sd_url))
            data = engine.generate(job)[0]
            return petdraw.character_from_bytes(data), name
        except (ToolError, ValueError, OSError) as exc:
            if args.engine != "auto":
                if isinstance(exc, ToolError):
                    raise
                raise ServiceError(f"{name} sent an image the pet cannot use: {exc}") from exc
            message = exc.message if isinstance(exc, ToolError) else str(exc)
            print(f"mimo2codex pet: {name} failed ({message}); drawing the pet locally", file=sys.stderr)
    return petdraw.draw_character(args.description, args.seed), "local"


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from mimo2codex.skills import petdraw
    except ModuleNotFoundError as exc:
        if exc.name != "PIL":
            raise
        raise UsageError(PILLOW_HINT) from None
    description = args.description.strip()
    if not description:
        raise UsageError("--description is empty")
    name = (args.name or "").strip() or " ".join(description.split()[:3]).title()
    pet_id = args.pet_id or slug(name)
    if not _ID.match(pet_id):
        raise UsageError(f"--id {pet_id!r}: use lowercase letters, digits and dashes (at most 64)")
    pets = codex_home(args) / "pets"
    final = pets / pet_id
    if final.exists() and not args.force:
        raise UsageError(f"{final} already exists; pass --force to replace it")
    if final.exists() and not (final / MANIFEST).is_file():
        raise UsageError(f"{final} exists and is not a pet (no {MANIFEST}); not replacing it")

    character, engine = character_image(args, settings)
    sheet = petdraw.compose_sheet(character)
    sheet_bytes = petdraw.encode_webp(sheet)
    pet_json = manifest(pet_id, name, description)
    try:
        size = dimensions(sheet_bytes, sniff_format(sheet_bytes))
        check_sheet_size(*(size or (0, 0)))
        sheet_name = check_manifest(pet_json)
        check_layout(lambda column, row: petdraw.cell_occupied(sheet, column, row))
    except PetFormatError as exc:
        raise ServiceError(f"the generated pet fails Codex's checks: {exc}") from None

    try:
        pets.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{pet_id}.", dir=pets))
        (staging / sheet_name).write_bytes(sheet_bytes)
        (staging / MANIFEST).write_text(json.dumps(pet_json, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except OSError as exc:
        raise UsageError(f"cannot write the pet under {pets}: {exc.strerror or exc}") from None

    result = {
        "ok": True,
        "command": "pet",
        "id": pet_id,
        "name": name,
        "engine": engine,
        "dir": str(final),
        "pet_json": str(final / MANIFEST),
        "spritesheet": str(final / sheet_name),
    }
    if args.json:
        emit_json(result)
    else:
        print(f"{final}\n(pet '{name}' drawn by {engine}; pick it among the custom pets in Codex)")
    return 0


COMMAND = Subcommand(
    name="pet",
    help="make a Codex pet (pet.json + a 1536x1872 sprite sheet) under $CODEX_HOME/pets",
    configure=configure,
    run=guarded("pet", run),
)
