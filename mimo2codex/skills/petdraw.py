"""Drawing a pet's sprite sheet with Pillow (the ``mimo2codex[pets]`` extra).

One character image (drawn here from the description, or made by an image engine) is animated by
transforms per row -- a bob for idle, a lean and stride for running, a swing for waving, an arc for
jumping, a droop and fade for failed -- and laid out on Codex's grid (:mod:`.petsheet`). The local
drawing is deterministic: the same description and seed give the same sheet, offline.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from mimo2codex.skills.petsheet import (
    COLUMNS,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    ROWS,
    SHEET_HEIGHT,
    SHEET_WIDTH,
    cell_box,
)

#: the character's box inside a 192x208 cell: room to lean, jump and swing without leaving it
CHARACTER_BOX = (132, 148)
#: cell pixels from the character's feet to the cell's bottom
BASELINE = 14


@dataclass(frozen=True, slots=True)
class Pose:
    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0
    sx: float = 1.0
    sy: float = 1.0
    flip: bool = False
    #: 0..1, how far the colour is drained (failed)
    fade: float = 0.0


def _wave(i: int, n: float, amplitude: float, phase: float = 0.0) -> float:
    return amplitude * math.sin(2 * math.pi * i / n + phase)


def poses(animation: str, frames: int) -> list[Pose]:
    """The pose of each frame of one of Codex's animations."""
    out = []
    for i in range(frames):
        if animation == "idle":
            pose = Pose(dy=_wave(i, frames, 2.5), sy=1 + _wave(i, frames, 0.02))
        elif animation in ("running-right", "running-left"):
            pose = Pose(
                dx=_wave(i, frames, 5),
                dy=-abs(_wave(i, frames / 2, 7)),
                angle=-7.0,
                sx=1 + _wave(i, frames / 2, 0.03),
                flip=animation == "running-left",
            )
        elif animation == "waving":
            pose = Pose(angle=10.0 if i % 2 == 0 else -10.0, dy=-2.0 * (i % 2))
        elif animation == "jumping":
            lift = (0.0, 20.0, 32.0, 20.0, 0.0)[i % 5]
            squash = 0.92 if i in (0, frames - 1) else 1.0
            pose = Pose(dy=-lift, sy=squash, sx=2 - squash)
        elif animation == "failed":
            progress = i / max(1, frames - 1)
            pose = Pose(angle=14 * progress, dy=6 * progress, sy=1 - 0.08 * progress, fade=0.7 * progress)
        elif animation == "waiting":
            pose = Pose(dx=_wave(i, frames, 4), angle=_wave(i, frames, 4))
        elif animation == "running":
            pose = Pose(dy=-5.0 * (i % 2), sx=1 + 0.04 * (i % 2), sy=1 - 0.04 * (i % 2))
        elif animation == "review":
            pose = Pose(angle=_wave(i, frames, 6), sx=1.03, sy=1.03)
        else:
            pose = Pose()
        out.append(pose)
    return out


def render_frame(character: Image.Image, pose: Pose) -> Image.Image:
    """One 192x208 cell: the character posed, feet on the baseline."""
    sprite = ImageOps.mirror(character) if pose.flip else character
    width = max(1, round(sprite.width * pose.sx))
    height = max(1, round(sprite.height * pose.sy))
    sprite = sprite.resize((width, height), Image.Resampling.LANCZOS)
    if pose.fade:
        alpha = sprite.getchannel("A")
        sprite = ImageEnhance.Color(sprite.convert("RGB")).enhance(1 - pose.fade).convert("RGBA")
        sprite.putalpha(alpha)
    angle = -pose.angle if pose.flip else pose.angle
    if angle:
        sprite = sprite.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    cell = Image.new("RGBA", (FRAME_WIDTH, FRAME_HEIGHT), (0, 0, 0, 0))
    dx = -pose.dx if pose.flip else pose.dx
    left = round((FRAME_WIDTH - sprite.width) / 2 + dx)
    top = round(FRAME_HEIGHT - BASELINE - sprite.height + pose.dy)
    cell.alpha_composite(sprite, (max(0, left), max(0, top)))
    return cell


def compose_sheet(character: Image.Image) -> Image.Image:
    """The 1536x1872 sheet: each of Codex's rows animated, unused cells left transparent."""
    sheet = Image.new("RGBA", (SHEET_WIDTH, SHEET_HEIGHT), (0, 0, 0, 0))
    for row in ROWS:
        for column, pose in enumerate(poses(row.animation, row.frames)):
            box = cell_box(column, row.index)
            sheet.alpha_composite(render_frame(character, pose), (box[0], box[1]))
    return sheet


def cell_occupied(sheet: Image.Image, column: int, row: int) -> bool:
    return sheet.crop(cell_box(column, row)).getchannel("A").getbbox() is not None


def fit_character(image: Image.Image) -> Image.Image:
    """Cropped to its visible pixels and scaled into :data:`CHARACTER_BOX`."""
    image = image.convert("RGBA")
    bbox = image.getchannel("A").getbbox()
    if bbox is None:
        raise ValueError("the character image has no visible pixels")
    image = image.crop(bbox)
    image.thumbnail(CHARACTER_BOX, Image.Resampling.LANCZOS)
    return image


def character_from_bytes(data: bytes) -> Image.Image:
    """An engine's picture as a character: the plain background around it made transparent."""
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    image.thumbnail((512, 512), Image.Resampling.LANCZOS)
    if image.getchannel("A").getextrema()[0] == 255:  # opaque: flood the background from the corners
        marker = (255, 0, 255, 0)
        for corner in ((0, 0), (image.width - 1, 0), (0, image.height - 1), (image.width - 1, image.height - 1)):
            if image.getpixel(corner) != marker:
                ImageDraw.floodfill(image, corner, marker, thresh=40)
        alpha = image.getchannel("A").point(lambda value: 255 if value else 0)
        image.putalpha(alpha)
    return fit_character(image)


#: colour words in a description, as hues
HUES = {
    "red": 0.0,
    "orange": 0.07,
    "yellow": 0.14,
    "gold": 0.12,
    "green": 0.33,
    "teal": 0.47,
    "cyan": 0.5,
    "blue": 0.6,
    "purple": 0.75,
    "violet": 0.77,
    "pink": 0.9,
}


def _palette(
    digest: bytes, hue_hint: float | None
) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:

    hue = hue_hint if hue_hint is not None else digest[0] / 255
    body = colorsys.hls_to_rgb(hue, 0.62, 0.55)
    belly = colorsys.hls_to_rgb(hue, 0.85, 0.45)
    outline = colorsys.hls_to_rgb(hue, 0.28, 0.5)

    def rgb(c: tuple[float, float, float]) -> tuple[int, int, int]:
        return round(c[0] * 255), round(c[1] * 255), round(c[2] * 255)

    return rgb(body), rgb(belly), rgb(outline)


def draw_character(description: str, seed: int = 0) -> Image.Image:
    """A small creature drawn from the description's words (deterministic)."""
    words = description.lower()
    digest = hashlib.sha256(f"{seed}:{words}".encode()).digest()
    hint = next((hue for word, hue in HUES.items() if re.search(rf"\b{word}\b", words)), None)
    body, belly, outline = _palette(digest, hint)
    scale = 4  # draw large, shrink: smooth edges without antialiasing primitives
    w, h = CHARACTER_BOX[0] * scale, CHARACTER_BOX[1] * scale
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    line = 3 * scale
    robot = any(k in words for k in ("robot", "bot", "machine", "android"))
    cat = any(k in words for k in ("cat", "kitten", "fox", "kitty"))
    bird = any(k in words for k in ("duck", "bird", "penguin", "owl", "chick"))
    horns = any(k in words for k in ("dragon", "devil", "goat", "dino"))
    top = int(h * 0.18)
    box = (int(w * 0.1), top, int(w * 0.9), int(h * 0.92))
    if cat or (not robot and not bird and digest[1] % 3 == 0):
        draw.polygon(
            [
                (box[0] + 20 * scale, top + 40 * scale),
                (box[0] + 12 * scale, 0),
                (box[0] + 60 * scale, top + 10 * scale),
            ],
            fill=body,
            outline=outline,
            width=line,
        )
        draw.polygon(
            [
                (box[2] - 20 * scale, top + 40 * scale),
                (box[2] - 12 * scale, 0),
                (box[2] - 60 * scale, top + 10 * scale),
            ],
            fill=body,
            outline=outline,
            width=line,
        )
    if horns:
        for x in (box[0] + 40 * scale, box[2] - 40 * scale):
            draw.polygon(
                [(x - 10 * scale, top + 8 * scale), (x, top - 22 * scale), (x + 10 * scale, top + 8 * scale)],
                fill=outline,
            )
    if robot:
        draw.line([(w // 2, top), (w // 2, top - 20 * scale)], fill=outline, width=line)
        draw.ellipse(
            [w // 2 - 8 * scale, top - 34 * scale, w // 2 + 8 * scale, top - 18 * scale],
            fill=belly,
            outline=outline,
            width=line,
        )
        draw.rounded_rectangle(box, radius=24 * scale, fill=body, outline=outline, width=line)
    else:
        draw.ellipse(box, fill=body, outline=outline, width=line)
    belly_box = (int(w * 0.3), int(h * 0.55), int(w * 0.7), int(h * 0.88))
    draw.ellipse(belly_box, fill=belly)
    eye_y = int(h * 0.42)
    for x in (int(w * 0.36), int(w * 0.64)):
        draw.ellipse([x - 11 * scale, eye_y - 13 * scale, x + 11 * scale, eye_y + 13 * scale], fill=(255, 255, 255))
        draw.ellipse([x - 6 * scale, eye_y - 6 * scale, x + 6 * scale, eye_y + 8 * scale], fill=(30, 30, 40))
    if bird:
        draw.polygon(
            [
                (w // 2 - 14 * scale, eye_y + 18 * scale),
                (w // 2 + 14 * scale, eye_y + 18 * scale),
                (w // 2, eye_y + 34 * scale),
            ],
            fill=(245, 160, 40),
            outline=outline,
        )
    else:
        draw.arc(
            [w // 2 - 12 * scale, eye_y + 10 * scale, w // 2 + 12 * scale, eye_y + 28 * scale],
            20,
            160,
            fill=outline,
            width=line,
        )
    for x in (int(w * 0.3), int(w * 0.7)):
        draw.ellipse([x - 16 * scale, h - 26 * scale, x + 16 * scale, h - 2 * scale], fill=outline)
    small = image.resize((CHARACTER_BOX[0], CHARACTER_BOX[1]), Image.Resampling.LANCZOS)
    return fit_character(small)


def encode_webp(sheet: Image.Image) -> bytes:
    out = io.BytesIO()
    # Lossless: Codex slices frames on exact pixel boundaries; lossy edges would bleed between cells.
    # method 0 encodes ~4x faster than the default for a ~2x larger file (~0.5 MB): a fair trade.
    sheet.save(out, "WEBP", lossless=True, quality=100, method=0)
    return out.getvalue()


def occupied_grid(sheet: Image.Image) -> dict[tuple[int, int], bool]:
    return {(c, r.index): cell_occupied(sheet, c, r.index) for r in ROWS for c in range(COLUMNS)}
