"""The Codex pet checks (pure): every rule Codex 0.169.0 applies when it loads a custom pet."""

from __future__ import annotations

from typing import Any

import pytest

from mimo2codex.skills.petsheet import (
    COLUMNS,
    ROWS,
    SHEET_HEIGHT,
    SHEET_WIDTH,
    PetFormatError,
    check_layout,
    check_manifest,
    check_sheet_size,
    manifest,
)


def test_the_grid_is_codexs() -> None:
    assert (SHEET_WIDTH, SHEET_HEIGHT) == (1536, 1872)
    assert [(r.animation, r.frames) for r in ROWS] == [
        ("idle", 6),
        ("running-right", 8),
        ("running-left", 8),
        ("waving", 4),
        ("jumping", 5),
        ("failed", 8),
        ("waiting", 6),
        ("running", 6),
        ("review", 6),
    ]
    check_sheet_size(1536, 1872)
    with pytest.raises(PetFormatError, match=r"spritesheet must be 1536x1872 pixels \(it is 1536x2288\)"):
        check_sheet_size(1536, 2288)


def test_our_manifest_passes() -> None:
    assert check_manifest(manifest("bolt", "Bolt", "a robot")) == "spritesheet.webp"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"spritesheetPath": "../sheet.webp"}, "spritesheet path must stay inside"),
        ({"spritesheetPath": "/etc/sheet.webp"}, "spritesheet path must stay inside"),
        ({"frame": {"width": 0, "height": 208, "columns": 8, "rows": 9}}, "must be non-zero"),
        ({"frame": {"width": 192, "height": 208, "columns": 7, "rows": 9}}, "must cover spritesheet exactly"),
        ({"frame": {"width": 8, "height": 8, "columns": 192, "rows": 234}}, "exceeds maximum 256"),
        ({"animations": {"idle": {"frames": []}}}, "animation idle must include at least one frame"),
        ({"animations": {"idle": {"frames": [72]}}}, "animation idle references sprite index 72"),
        ({"animations": {"idle": {"frames": [0], "fps": 120.0}}}, "fps must be finite and between 0 and 60"),
        ({"animations": {"x": {"frames": [0], "fallback": "nope"}}}, "fallback nope does not exist"),
        ({"displayName": 3}, "displayName must be a string"),
    ],
)
def test_codex_refusals(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PetFormatError, match=message):
        check_manifest({**manifest("p", "P", "d"), **changes})


def test_other_valid_grids_and_animations() -> None:
    tall = {"frame": {"width": 384, "height": 104, "columns": 4, "rows": 18}}
    custom = {"animations": {"custom": {"frames": [1, 2], "fps": 2.0, "loop": False, "fallback": "sad"}}}
    check_manifest({**manifest("p", "P", "d"), **tall, **custom})


def test_layout_check() -> None:
    used = {(c, r.index) for r in ROWS for c in range(r.frames)}
    check_layout(lambda c, r: (c, r) in used)
    with pytest.raises(PetFormatError, match=r"row 3 \(waving\) frame 2 is empty"):
        check_layout(lambda c, r: (c, r) in used - {(2, 3)})
    with pytest.raises(PetFormatError, match=r"row 0 \(idle\) uses 6 frames, but cell 7 has pixels"):
        check_layout(lambda c, r: (c, r) in used | {(COLUMNS - 1, 0)})
