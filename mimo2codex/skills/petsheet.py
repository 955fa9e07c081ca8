"""The Codex pet format, and the checks Codex applies when it loads a pet. Pure (no Pillow).

Mirrored from the openai/codex source (Codex CLI 0.169.0 carries the same error texts):

- ``codex-rs/tui/src/pets/catalog.rs``: frames of 192x208 in 8 columns x 9 rows, so the sheet is
  exactly 1536x1872 (``DEFAULT_FRAME_*``, ``SPRITESHEET_WIDTH/HEIGHT``);
- ``codex-rs/tui/src/pets/model.rs``: ``load_custom_pet`` reads ``$CODEX_HOME/pets/<id>/pet.json``;
  ``load_pet_manifest`` takes ``id``, ``displayName``, ``description``, ``spritesheetPath`` (default
  ``spritesheet.webp``), an optional ``frame`` grid and ``animations``;
  ``resolve_spritesheet_path`` keeps the sheet inside the pet directory;
  ``validate_app_spritesheet_dimensions`` demands 1536x1872; ``validate_frame_spec`` demands a
  non-zero grid covering the sheet exactly with at most 256 frames; ``load_animations`` and
  ``validate_animation_indices`` demand non-empty frame lists inside the grid, fps in (0, 60] and an
  existing fallback; ``default_animations`` says which row is which animation (:data:`ROWS`).

:func:`check_layout` is ours, stricter than Codex: every frame an animation shows has pixels, every
other cell is empty, so no animation flashes a blank frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

FRAME_WIDTH = 192
FRAME_HEIGHT = 208
COLUMNS = 8
ROW_COUNT = 9
SHEET_WIDTH = FRAME_WIDTH * COLUMNS  # 1536
SHEET_HEIGHT = FRAME_HEIGHT * ROW_COUNT  # 1872
MAX_FRAMES = 256
MAX_FPS = 60.0
MANIFEST = "pet.json"
DEFAULT_SPRITESHEET = "spritesheet.webp"


@dataclass(frozen=True, slots=True)
class Row:
    animation: str
    index: int
    #: frames used, from column 0
    frames: int


#: Codex's built-in animations, one per row (``default_animations`` in model.rs); ``move_right``,
#: ``move_left``, ``wave``, ``bounce`` and ``sad`` are aliases of rows 1-5
ROWS: tuple[Row, ...] = (
    Row("idle", 0, 6),
    Row("running-right", 1, 8),
    Row("running-left", 2, 8),
    Row("waving", 3, 4),
    Row("jumping", 4, 5),
    Row("failed", 5, 8),
    Row("waiting", 6, 6),
    Row("running", 7, 6),
    Row("review", 8, 6),
)
DEFAULT_ANIMATIONS = frozenset({row.animation for row in ROWS} | {"move_right", "move_left", "wave", "bounce", "sad"})


class PetFormatError(ValueError):
    """The pet would not load in Codex (or breaks our layout check); the message says why."""


def manifest(pet_id: str, display_name: str, description: str) -> dict[str, Any]:
    """The pet.json we write: Codex's defaults for the grid and the animations."""
    return {
        "id": pet_id,
        "displayName": display_name,
        "description": description,
        "spritesheetPath": DEFAULT_SPRITESHEET,
    }


def check_sheet_size(width: int, height: int) -> None:
    if (width, height) != (SHEET_WIDTH, SHEET_HEIGHT):
        raise PetFormatError(f"spritesheet must be {SHEET_WIDTH}x{SHEET_HEIGHT} pixels (it is {width}x{height})")


def spritesheet_path(pet_json: Mapping[str, Any]) -> str:
    """The sheet's path relative to the pet directory; refuses one that leaves it."""
    raw = pet_json.get("spritesheetPath")
    path = raw.strip() if isinstance(raw, str) and raw.strip() else DEFAULT_SPRITESHEET
    pure = PurePosixPath(path)
    if pure.is_absolute() or PureWindowsPath(path).drive or ".." in pure.parts or ".." in PureWindowsPath(path).parts:
        raise PetFormatError(f"spritesheet path must stay inside the pet directory (got {path!r})")
    return path


def frame_count(pet_json: Mapping[str, Any]) -> int:
    """Frames in the grid; checks the grid against the sheet like ``validate_frame_spec``."""
    frame = pet_json.get("frame")
    if frame is None:
        return COLUMNS * ROW_COUNT
    if not isinstance(frame, Mapping):
        raise PetFormatError("frame must be an object {width, height, columns, rows}")
    values = {}
    for key in ("width", "height", "columns", "rows"):
        value = frame.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PetFormatError(f"frame.{key} must be a whole number")
        values[key] = value
    if 0 in values.values():
        raise PetFormatError("pet frame dimensions and grid counts must be non-zero")
    total = (values["width"] * values["columns"], values["height"] * values["rows"])
    if total != (SHEET_WIDTH, SHEET_HEIGHT):
        raise PetFormatError(
            f"pet frame grid must cover spritesheet exactly: expected {SHEET_WIDTH}x{SHEET_HEIGHT}, "
            f"got {total[0]}x{total[1]}"
        )
    count = values["columns"] * values["rows"]
    if count > MAX_FRAMES:
        raise PetFormatError(f"pet frame count {count} exceeds maximum {MAX_FRAMES}")
    return count


def check_animations(pet_json: Mapping[str, Any], frames: int) -> None:
    animations = pet_json.get("animations") or {}
    if not isinstance(animations, Mapping):
        raise PetFormatError("animations must be an object")
    names = set(DEFAULT_ANIMATIONS) | set(animations)
    for name, spec in animations.items():
        if not isinstance(spec, Mapping):
            raise PetFormatError(f"animation {name} must be an object")
        indices = spec.get("frames") or []
        if not indices:
            raise PetFormatError(f"animation {name} must include at least one frame")
        for index in indices:
            if not isinstance(index, int) or index < 0 or index >= frames:
                raise PetFormatError(f"animation {name} references sprite index {index}, but pet has {frames} frames")
        fps = spec.get("fps")
        if fps is not None and (not isinstance(fps, int | float) or not math.isfinite(fps) or not 0 < fps <= MAX_FPS):
            raise PetFormatError(f"animation {name} fps must be finite and between 0 and {MAX_FPS:g}, got {fps}")
        fallback = spec.get("fallback") or "idle"
        if fallback not in names:
            raise PetFormatError(f"animation {name} fallback {fallback} does not exist")


def check_manifest(pet_json: Any) -> str:
    """Every check Codex makes on pet.json; returns the sheet's relative path."""
    if not isinstance(pet_json, Mapping):
        raise PetFormatError("pet.json must hold a JSON object")
    for key in ("id", "displayName", "description"):
        if key in pet_json and not isinstance(pet_json[key], str):
            raise PetFormatError(f"{key} must be a string")
    path = spritesheet_path(pet_json)
    check_animations(pet_json, frame_count(pet_json))
    return path


def check_layout(occupied: Callable[[int, int], bool]) -> None:
    """Ours: the cells Codex's animations show have pixels; the others are empty.

    ``occupied(column, row)`` says whether a cell has any visible pixel.
    """
    for row in ROWS:
        for column in range(COLUMNS):
            used = column < row.frames
            if used and not occupied(column, row.index):
                raise PetFormatError(f"row {row.index} ({row.animation}) frame {column} is empty")
            if not used and occupied(column, row.index):
                raise PetFormatError(
                    f"row {row.index} ({row.animation}) uses {row.frames} frames, but cell {column} has pixels"
                )


def cell_box(column: int, row: int) -> tuple[int, int, int, int]:
    left, top = column * FRAME_WIDTH, row * FRAME_HEIGHT
    return left, top, left + FRAME_WIDTH, top + FRAME_HEIGHT
