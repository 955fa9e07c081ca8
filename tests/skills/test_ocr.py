"""``mimo2codex ocr`` through the live gateway, or ``--direct``, against the strict MiMo vision fake."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.image_services import FakePollinations, image_bytes
from tests.fakes.strict_upstream import Reply, StrictUpstream, VendorRules
from tests.skills.conftest import Cli

pytestmark = pytest.mark.live

GOOD_JSON = {
    "text": "Error: disk full",
    "language": "en",
    "description": "a terminal",
    "blocks": [{"type": "code", "text": "Error: disk full"}],
}


def _gateway_for(upstream: StrictUpstream, start_gateway: StartGateway) -> str:
    settings = load_settings(
        {"MIMO_API_KEY": upstream.api_key, "MIMO_BASE_URL": upstream.url, "MIMO2CODEX_MAX_RETRIES": "0"}
    )
    return start_gateway(settings).url


def _parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    content = body["messages"][0]["content"]
    assert isinstance(content, list)
    return content


def _image_of(part: dict[str, Any]) -> tuple[str, bytes]:
    header, _, data = part["image_url"]["url"].partition(",")
    return header, base64.b64decode(data)


def test_two_images_through_the_gateway(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path
) -> None:
    upstream = start_upstream(lambda body, n: Reply.text(f"text of image {n + 1}"), rules=VendorRules.mimo_vision())
    gateway = _gateway_for(upstream, start_gateway)
    shot = tmp_path / "shot.jpg"  # a PNG with a .jpg name: the bytes decide the MIME type
    shot.write_bytes(image_bytes("PNG"))
    jpeg = image_bytes("JPEG")
    data_url = "data:image/png;base64," + base64.b64encode(jpeg).decode()  # declared wrongly too
    result = cli("ocr", "--gateway", gateway, "--lang", "zh", str(shot), data_url)
    assert result.code == 0, result.explain()
    assert result.out == f"==> {shot} <==\ntext of image 1\n\n==> data URL <==\ntext of image 2\n"
    assert upstream.violations == []
    first, second = upstream.bodies
    assert first["model"] == "mimo-v2.5"
    assert _parts(first)[0]["type"] == "text"
    assert "Transcribe every piece of text" in _parts(first)[0]["text"]
    assert "mostly in zh" in _parts(first)[0]["text"]
    assert _image_of(_parts(first)[1]) == ("data:image/png;base64", shot.read_bytes())
    assert _image_of(_parts(second)[1]) == ("data:image/jpeg;base64", jpeg)


def test_structured_mode_validates_the_answer(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path
) -> None:
    answers = [
        Reply.text("```json\n" + json.dumps(GOOD_JSON) + "\n```"),
        Reply.text(json.dumps({**GOOD_JSON, "blocks": [{"type": "poem", "text": "x"}]})),
        Reply.text("Sure! Here is the text: Error"),
    ]
    upstream = start_upstream(answers, rules=VendorRules.mimo_vision())
    gateway = _gateway_for(upstream, start_gateway)
    shot = tmp_path / "a.png"
    shot.write_bytes(image_bytes())
    good = cli("ocr", "--gateway", gateway, "--mode", "structured", "--json", str(shot))
    assert good.code == 0, good.explain()
    envelope = good.json
    assert envelope["ok"] is True
    assert envelope["mode"] == "structured"
    assert envelope["via"] == "gateway"
    assert envelope["model"] == "mimo-v2.5"
    assert envelope["results"][0]["data"] == GOOD_JSON
    assert envelope["results"][0]["mime"] == "image/png"
    assert '"required": ["text", "language", "blocks"]' in _parts(upstream.bodies[0])[0]["text"]

    bad_field = cli("ocr", "--gateway", gateway, "--mode", "structured", "--json", str(shot))
    assert bad_field.code == 1
    assert bad_field.json["ok"] is False
    assert bad_field.json["error"]["type"] == "invalid_output"
    assert "$.blocks[0].type is 'poem', expected one of heading" in bad_field.err
    prose = cli("ocr", "--gateway", gateway, "--mode", "structured", str(shot))
    assert prose.code == 1
    assert "did not return the promised JSON" in prose.err
    assert "not JSON" in prose.err


def test_stream_prints_as_it_arrives(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path
) -> None:
    upstream = start_upstream([Reply.text("line one\nline two", chunk_chars=3)], rules=VendorRules.mimo_vision())
    gateway = _gateway_for(upstream, start_gateway)
    shot = tmp_path / "a.png"
    shot.write_bytes(image_bytes())
    result = cli("ocr", "--gateway", gateway, "--stream", "--mode", "markdown", str(shot))
    assert result.code == 0, result.explain()
    assert result.out == "line one\nline two\n"
    assert upstream.bodies[0]["stream"] is True
    assert "Convert the content of this image to Markdown" in _parts(upstream.bodies[0])[0]["text"]
    assert cli("ocr", "--stream", "--json", str(shot)).code == 2


def test_stdin_and_upstream_errors(
    cli: Cli,
    start_upstream: StartUpstream,
    start_gateway: StartGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upstream = start_upstream(
        [Reply.http_error(400, "Param Incorrect: image too small", code="400")], rules=VendorRules.mimo_vision()
    )
    gateway = _gateway_for(upstream, start_gateway)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(image_bytes("GIF"))))
    result = cli("ocr", "--gateway", gateway, "-")
    assert result.code == 1
    assert "HTTP 400: Param Incorrect: image too small" in result.err
    assert _image_of(_parts(upstream.bodies[0])[1])[0] == "data:image/gif;base64"


def test_bad_input_is_exit_2_and_nothing_is_sent(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path
) -> None:
    upstream = start_upstream([Reply.text("x")], rules=VendorRules.mimo_vision())
    gateway = _gateway_for(upstream, start_gateway)
    big = tmp_path / "big.png"
    big.write_bytes(image_bytes("PNG", (400, 400)) + b"\0" * 4096)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    too_big = cli("ocr", "--gateway", gateway, "--max-image-size", "2K", str(big))
    assert too_big.code == 2
    assert f"image {big} is {big.stat().st_size // 1024} KB; the cap is 2 KB per image (--max-image-size" in too_big.err
    not_image = cli("ocr", "--gateway", gateway, str(text))
    assert not_image.code == 2
    assert "is not an image" in not_image.err
    missing = cli("ocr", "--gateway", gateway, str(tmp_path / "gone.png"))
    assert missing.code == 2
    assert "gone.png: no such file" in missing.err
    assert upstream.requests == []


def test_gateway_not_running(cli: Cli, tmp_path: Path) -> None:
    shot = tmp_path / "a.png"
    shot.write_bytes(image_bytes())
    result = cli("ocr", "--gateway", "http://127.0.0.1:9/v1", str(shot))
    assert result.code == 1
    assert "cannot reach http://127.0.0.1:9" in result.err
    assert "Is the gateway running?" in result.err
    assert "Traceback" not in result.err


def test_direct_uses_the_provider_key_and_quirks(
    cli: Cli, start_upstream: StartUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    upstream = start_upstream([Reply.text("direct text")], rules=VendorRules.mimo_vision())
    shot = tmp_path / "a.png"
    shot.write_bytes(image_bytes())
    missing = cli("ocr", "--direct", str(shot))
    assert missing.code == 3
    assert "provider mimo has no API key; set MIMO_API_KEY" in missing.err
    monkeypatch.setenv("MIMO_API_KEY", upstream.api_key)
    monkeypatch.setenv("MIMO_BASE_URL", upstream.url)
    result = cli("ocr", "--direct", "--json", str(shot))
    assert result.code == 0, result.explain()
    assert result.json["via"] == "direct"
    assert result.json["results"][0]["text"] == "direct text"
    assert upstream.violations == []
    assert upstream.requests[0].headers["authorization"] == f"Bearer {upstream.api_key}"
    assert upstream.bodies[0]["thinking"] == {"type": "enabled"}  # MiMo's quirk, applied without the gateway


def test_direct_on_a_provider_without_vision(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DS_API_KEY", "sk-ds")
    shot = tmp_path / "a.png"
    shot.write_bytes(image_bytes())
    result = cli("ocr", "--direct", "--model", "ds", str(shot))
    assert result.code == 2
    assert "provider deepseek lists no vision model" in result.err


def test_url_images_are_downloaded_and_a_failed_download_is_exit_1(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream([Reply.text("from a URL")], rules=VendorRules.mimo_vision())
    gateway = _gateway_for(upstream, start_gateway)
    with FakePollinations().running() as web:
        ok = cli("ocr", "--gateway", gateway, f"{web.url}/prompt/receipt")
        web.fail_next(404, "Not Found")
        gone = cli("ocr", "--gateway", gateway, f"{web.url}/prompt/missing")
    assert ok.code == 0, ok.explain()
    assert ok.out == "from a URL\n"
    assert _image_of(_parts(upstream.bodies[0])[1])[0] == "data:image/jpeg;base64"
    assert gone.code == 1
    assert "/prompt/missing: the server answered HTTP 404" in gone.err
    assert len(upstream.bodies) == 1
