"""Pure pieces of the helper commands: the structured-OCR validator, file naming, engine mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimo2codex.protocol.images import GIF, JPEG, PNG
from mimo2codex.skills.engines.replicate import aspect_ratio
from mimo2codex.skills.image import parse_image_size, target_paths, with_real_extension
from mimo2codex.skills.ocr import MODES, instruction, request_body
from mimo2codex.skills.ocr_schema import SCHEMA, StructuredOutputError, parse_structured
from mimo2codex.skills.pet import slug
from tests.fakes.image_services import image_bytes

VALID = {"text": "a\nb", "language": "en", "blocks": [{"type": "list", "text": "a"}]}


def test_structured_answers() -> None:
    assert parse_structured(json.dumps(VALID)) == VALID
    assert parse_structured("```json\n" + json.dumps(VALID) + "\n```") == VALID
    assert parse_structured("```\n" + json.dumps(VALID) + "\n```\n") == VALID


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("Here you go: {}", r"not JSON \(Expecting value at line 1 column 1\)"),
        ("[]", r"\$ must be an object"),
        (json.dumps({"text": "x", "language": "en"}), r"\$\.blocks is missing"),
        (json.dumps({**VALID, "text": 3}), r"\$\.text must be a string"),
        (json.dumps({**VALID, "blocks": {}}), r"\$\.blocks must be an array"),
        (json.dumps({**VALID, "blocks": [{"type": "list"}]}), r"\$\.blocks\[0\]\.text is missing"),
        (json.dumps({**VALID, "confidence": 0.9}), r"\$\.confidence is not part of the schema"),
    ],
)
def test_structured_refusals_name_the_field(answer: str, message: str) -> None:
    with pytest.raises(StructuredOutputError, match=message):
        parse_structured(answer)


def test_every_mode_has_an_instruction_and_structured_carries_the_schema() -> None:
    assert set(MODES) == {"text", "describe", "markdown", "structured"}
    assert json.dumps(SCHEMA) in instruction("structured", None, None)
    assert instruction("text", "ja", "only the title").endswith("only the title")


def test_request_body_puts_the_text_first() -> None:
    from mimo2codex.skills.image_input import ImageInput

    image = ImageInput("a.gif", image_bytes("GIF"), GIF)
    body = request_body("mimo-v2.5", image, "read")
    content = body["messages"][0]["content"]
    assert [part["type"] for part in content] == ["text", "image_url"]
    assert content[1]["image_url"]["url"].startswith("data:image/gif;base64,R0lGOD")


def test_file_names_follow_the_bytes() -> None:
    assert with_real_extension(Path("a.png"), JPEG) == Path("a.jpg")
    assert with_real_extension(Path("a.jpeg"), JPEG) == Path("a.jpeg")
    assert with_real_extension(Path("a"), PNG) == Path("a.png")
    assert with_real_extension(Path("dir.v2/a.PNG"), PNG) == Path("dir.v2/a.PNG")
    assert target_paths(Path("x/cat.png"), 2) == [Path("x/cat-1.png"), Path("x/cat-2.png")]


def test_sizes_and_ratios() -> None:
    assert parse_image_size("1024X768") == (1024, 768)
    assert parse_image_size("auto") is None
    assert aspect_ratio((1024, 1024)) == "1:1"
    assert aspect_ratio((1792, 1024)) == "16:9"
    assert aspect_ratio((1024, 1536)) == "2:3"


def test_pet_ids() -> None:
    assert slug("Bolt the Robot!") == "bolt-the-robot"
    assert slug("小猫") == "pet"
