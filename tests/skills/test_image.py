"""``mimo2codex image`` against local fakes of OpenAI, Pollinations, Replicate and AUTOMATIC1111."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimo2codex.protocol.images import sniff_format
from tests.fakes.image_services import (
    FakeOpenAIImages,
    FakePollinations,
    FakeReplicate,
    FakeSDWebUI,
    image_bytes,
)
from tests.skills.conftest import Cli

pytestmark = pytest.mark.live


@pytest.fixture
def openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIImages]:
    with FakeOpenAIImages().running() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
        yield fake


@pytest.fixture
def pollinations(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePollinations]:
    with FakePollinations().running() as fake:
        monkeypatch.setenv("MIMO2CODEX_POLLINATIONS_URL", fake.url)
        yield fake


def _replicate(monkeypatch: pytest.MonkeyPatch, **options: object) -> FakeReplicate:
    fake = FakeReplicate(**options)  # type: ignore[arg-type]
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.api_key)
    return fake


# -- openai ----------------------------------------------------------------------------------------


def test_openai_generation_sends_gpt_image_1_and_prints_json(
    cli: Cli, openai: FakeOpenAIImages, tmp_path: Path
) -> None:
    out = tmp_path / "art" / "fox.png"
    result = cli(
        "image",
        "--engine",
        "openai",
        "--prompt",
        "a fox",
        "--out",
        str(out),
        "--quality",
        "high",
        "--size",
        "1536x1024",
        "--style",
        "pixel art",
        "--json",
    )
    assert result.code == 0, result.explain()
    body = openai.requests[-1].json()
    assert body == {
        "model": "gpt-image-1",
        "prompt": "a fox. Style: pixel art",
        "n": 1,
        "size": "1536x1024",
        "quality": "high",
    }
    assert openai.requests[-1].headers["authorization"] == f"Bearer {openai.api_key}"
    envelope = result.json
    assert envelope["ok"] is True
    assert envelope["engine"] == "openai"
    assert envelope["model"] == "gpt-image-1"
    assert envelope["paths"] == [str(out)]
    assert envelope["images"][0] | {"bytes": 0} == {
        "path": str(out),
        "mime": "image/png",
        "bytes": 0,
        "width": 64,
        "height": 64,
    }
    assert sniff_format(out.read_bytes()).ext == "png"


def test_openai_never_gets_hd_or_a_seed(cli: Cli, openai: FakeOpenAIImages, tmp_path: Path) -> None:
    refused = cli("image", "--engine", "openai", "--prompt", "x", "--out", str(tmp_path / "a.png"), "--quality", "hd")
    assert refused.code == 2
    assert "invalid choice: 'hd'" in refused.err
    assert openai.requests == []
    result = cli("image", "--engine", "openai", "--prompt", "x", "--out", str(tmp_path / "a.png"), "--seed", "42")
    assert result.code == 0, result.explain()
    assert "seed" not in openai.requests[-1].json()
    assert "no seed; --seed is ignored" in result.err


def test_openai_size_is_checked_before_sending(cli: Cli, openai: FakeOpenAIImages, tmp_path: Path) -> None:
    result = cli("image", "--engine", "openai", "--prompt", "x", "--out", str(tmp_path / "a.png"), "--size", "512x512")
    assert result.code == 2
    assert "openai: --size must be one of 1024x1024, 1536x1024, 1024x1536, auto (got 512x512)" in result.err
    assert openai.requests == []


def test_openai_reference_goes_to_edits_as_multipart(cli: Cli, openai: FakeOpenAIImages, tmp_path: Path) -> None:
    ref = tmp_path / "ref.bin"  # a JPEG with a misleading name: the bytes decide
    ref.write_bytes(image_bytes("JPEG"))
    result = cli(
        "image",
        "--engine",
        "openai",
        "--prompt",
        "make it blue",
        "--out",
        str(tmp_path / "b.png"),
        "--reference",
        str(ref),
        "--n",
        "2",
    )
    assert result.code == 0, result.explain()
    request = openai.requests[-1]
    assert request.path == "/v1/images/edits"
    upload = request.form["image[]"][0]
    assert upload["content_type"] == "image/jpeg"
    assert upload["data"] == ref.read_bytes()
    assert request.form["prompt"] == "make it blue"
    assert request.form["n"] == "2"
    assert result.out.split() == [str(tmp_path / "b-1.png"), str(tmp_path / "b-2.png")]


def test_openai_jpeg_is_saved_as_jpg(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with FakeOpenAIImages(answer_format="JPEG").running() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
        result = cli("image", "--engine", "openai", "--prompt", "x", "--out", str(tmp_path / "c.png"))
    assert result.code == 0, result.explain()
    assert result.out.strip() == str(tmp_path / "c.jpg")
    assert not (tmp_path / "c.png").exists()
    assert "sent JPG, so" in result.err


def test_openai_missing_key_is_exit_3(cli: Cli, tmp_path: Path) -> None:
    result = cli("image", "--engine", "openai", "--prompt", "x", "--out", str(tmp_path / "a.png"), "--json")
    assert result.code == 3
    assert "OPENAI_API_KEY" in result.err
    assert result.json == {
        "ok": False,
        "command": "image",
        "error": {"type": "missing_key", "message": result.json["error"]["message"]},
    }


def test_openai_rejected_key_is_exit_1_without_echoing_it(
    cli: Cli, openai: FakeOpenAIImages, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-123456")
    result = cli("image", "--engine", "openai", "--prompt", "x", "--out", str(tmp_path / "a.png"))
    assert result.code == 1
    assert "openai answered HTTP 401: Incorrect API key provided" in result.err
    assert "Traceback" not in result.err


def test_openai_rate_limit_message_is_passed_on(cli: Cli, openai: FakeOpenAIImages, tmp_path: Path) -> None:
    openai.fail_next(
        429,
        {
            "error": {
                "message": "Rate limit reached for gpt-image-1 in organization org-x on images per minute (IPM): Limit 5.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
    )
    result = cli("image", "--engine", "openai", "--prompt", "x", "--out", str(tmp_path / "a.png"))
    assert result.code == 1
    assert "HTTP 429: Rate limit reached for gpt-image-1" in result.err


# -- pollinations ----------------------------------------------------------------------------------


def test_pollinations_jpeg_never_lands_in_a_png(cli: Cli, pollinations: FakePollinations, tmp_path: Path) -> None:
    result = cli(
        "image",
        "--engine",
        "pollinations",
        "--prompt",
        "a red fox",
        "--out",
        str(tmp_path / "fox.png"),
        "--n",
        "2",
        "--seed",
        "7",
        "--size",
        "768x512",
        "--json",
    )
    assert result.code == 0, result.explain()
    paths = [str(tmp_path / "fox-1.jpg"), str(tmp_path / "fox-2.jpg")]
    assert result.json["paths"] == paths
    assert all(sniff_format(Path(p).read_bytes()).ext == "jpg" for p in paths)
    assert [r.query["seed"] for r in pollinations.requests] == ["7", "8"]
    first = pollinations.requests[0]
    assert first.path == "/prompt/a red fox"
    assert first.query | {"seed": ""} == {
        "width": "768",
        "height": "512",
        "model": "flux",
        "nologo": "true",
        "seed": "",
    }


def test_pollinations_errors_and_reference(cli: Cli, pollinations: FakePollinations, tmp_path: Path) -> None:
    pollinations.fail_next(429, {"error": "Too Many Requests", "message": "Queue full for IP 127.0.0.1"})
    result = cli("image", "--engine", "pollinations", "--prompt", "x", "--out", str(tmp_path / "a.png"))
    assert result.code == 1
    assert "pollinations answered HTTP 429: Queue full for IP 127.0.0.1" in result.err
    result = cli(
        "image", "--engine", "pollinations", "--prompt", "x", "--out", str(tmp_path / "a.png"), "--size", "4096x4096"
    )
    assert result.code == 1
    assert "at most 2048" in result.err
    ref = tmp_path / "ref.png"
    ref.write_bytes(image_bytes())
    result = cli(
        "image", "--engine", "pollinations", "--prompt", "x", "--out", str(tmp_path / "a.png"), "--reference", str(ref)
    )
    assert result.code == 2
    assert "pollinations cannot start from --reference" in result.err


def test_auto_without_keys_is_pollinations_and_with_a_key_openai(
    cli: Cli, pollinations: FakePollinations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli("image", "--prompt", "x", "--out", str(tmp_path / "a.png"), "--json")
    assert result.code == 0
    assert result.json["engine"] == "pollinations"
    with FakeOpenAIImages().running() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
        result = cli("image", "--prompt", "x", "--out", str(tmp_path / "b.png"), "--json")
    assert result.code == 0
    assert result.json["engine"] == "openai"


# -- replicate -------------------------------------------------------------------------------------


def test_replicate_polls_until_succeeded(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with _replicate(monkeypatch, polls=1).running() as fake:
        monkeypatch.setenv("MIMO2CODEX_REPLICATE_URL", f"{fake.url}/v1")
        result = cli(
            "image",
            "--engine",
            "replicate",
            "--prompt",
            "a fox",
            "--out",
            str(tmp_path / "r.webp"),
            "--n",
            "2",
            "--size",
            "1792x1024",
            "--seed",
            "3",
            "--json",
        )
    assert result.code == 0, result.explain()
    create = fake.requests[0]
    assert create.path == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert create.headers["prefer"] == "wait=60"
    assert create.json()["input"] == {
        "prompt": "a fox",
        "num_outputs": 2,
        "output_format": "png",
        "aspect_ratio": "16:9",
        "seed": 3,
    }
    assert [r.path for r in fake.requests[1:3]] == ["/v1/predictions/pred0001"] * 2
    assert result.json["paths"] == [str(tmp_path / "r-1.png"), str(tmp_path / "r-2.png")]


def test_replicate_errors(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = str(tmp_path / "r.png")
    assert cli("image", "--engine", "replicate", "--prompt", "x", "--out", out).code == 3
    with _replicate(
        monkeypatch, fail_with="NSFW content detected. Try running it again, or try a different prompt."
    ).running() as fake:
        monkeypatch.setenv("MIMO2CODEX_REPLICATE_URL", f"{fake.url}/v1")
        failed = cli("image", "--engine", "replicate", "--prompt", "x", "--out", out)
        too_many = cli("image", "--engine", "replicate", "--prompt", "x", "--out", out, "--n", "5")
        monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_wrong")
        denied = cli("image", "--engine", "replicate", "--prompt", "x", "--out", out)
    assert failed.code == 1
    assert "replicate prediction pred0001 failed: NSFW content detected" in failed.err
    assert too_many.code == 1
    assert "input.num_outputs: Must be less than or equal to 4" in too_many.err
    assert denied.code == 1
    assert "HTTP 401: You did not pass a valid authentication token" in denied.err


def test_replicate_reference_uses_kontext(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    ref.write_bytes(image_bytes())
    with _replicate(monkeypatch).running() as fake:
        monkeypatch.setenv("MIMO2CODEX_REPLICATE_URL", f"{fake.url}/v1")
        result = cli(
            "image", "--engine", "replicate", "--prompt", "x", "--out", str(tmp_path / "k.png"), "--reference", str(ref)
        )
    assert result.code == 0, result.explain()
    inputs = fake.requests[0].json()["input"]
    assert fake.requests[0].path == "/v1/models/black-forest-labs/flux-kontext-pro/predictions"
    assert base64.b64decode(inputs["input_image"].split(",", 1)[1]) == ref.read_bytes()


# -- AUTOMATIC1111 ---------------------------------------------------------------------------------


def test_sd_webui_txt2img_and_img2img(cli: Cli, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    ref.write_bytes(image_bytes())
    with FakeSDWebUI().running() as fake:
        made = cli(
            "image",
            "--engine",
            "sd-webui",
            "--sd-url",
            fake.url,
            "--prompt",
            "a fox",
            "--out",
            str(tmp_path / "s.png"),
            "--quality",
            "high",
            "--seed",
            "11",
            "--size",
            "768x512",
            "--n",
            "2",
        )
        edited = cli(
            "image",
            "--engine",
            "sd-webui",
            "--sd-url",
            fake.url,
            "--prompt",
            "bluer",
            "--out",
            str(tmp_path / "e.png"),
            "--reference",
            str(ref),
        )
    assert made.code == 0, made.explain()
    body = fake.requests[0].json()
    assert fake.requests[0].path == "/sdapi/v1/txt2img"
    assert body | {"prompt": ""} == {
        "prompt": "",
        "negative_prompt": "",
        "width": 768,
        "height": 512,
        "seed": 11,
        "steps": 40,
        "batch_size": 2,
        "n_iter": 1,
    }
    assert made.out.split() == [str(tmp_path / "s-1.png"), str(tmp_path / "s-2.png")]
    assert edited.code == 0, edited.explain()
    assert fake.requests[1].path == "/sdapi/v1/img2img"
    assert base64.b64decode(fake.requests[1].json()["init_images"][0]) == ref.read_bytes()


def test_sd_webui_without_api_and_unreachable(cli: Cli, tmp_path: Path) -> None:
    with FakeSDWebUI(api=False).running() as fake:
        result = cli(
            "image", "--engine", "sd-webui", "--sd-url", fake.url, "--prompt", "x", "--out", str(tmp_path / "a.png")
        )
    assert result.code == 1
    assert "start the web UI with --api" in result.err
    gone = cli("image", "--engine", "sd-webui", "--sd-url", fake.url, "--prompt", "x", "--out", str(tmp_path / "a.png"))
    assert gone.code == 1
    assert f"cannot reach {fake.url}" in gone.err
    assert "Traceback" not in gone.err


def test_sd_webui_validation_error_is_named(cli: Cli, tmp_path: Path) -> None:
    with FakeSDWebUI().running() as fake:
        fake.fail_next(
            422,
            {
                "detail": [
                    {"loc": ["body", "width"], "msg": "value is not a valid integer", "type": "type_error.integer"}
                ]
            },
        )
        result = cli(
            "image", "--engine", "sd-webui", "--sd-url", fake.url, "--prompt", "x", "--out", str(tmp_path / "a.png")
        )
    assert result.code == 1
    assert "HTTP 422: body.width: value is not a valid integer" in result.err


def test_bad_usage_exits_2(cli: Cli, tmp_path: Path) -> None:
    out = str(tmp_path / "a.png")
    assert cli("image", "--prompt", "x", "--out", out, "--n", "11").code == 2
    assert cli("image", "--prompt", "x", "--out", out, "--size", "big").code == 2
    missing = cli("image", "--prompt", "x", "--out", out, "--reference", str(tmp_path / "nope.png"))
    assert missing.code == 2
    assert "nope.png: no such file" in missing.err


def test_pollinations_with_a_key_uses_the_keyed_gateway(
    cli: Cli, pollinations: FakePollinations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLLINATIONS_TOKEN", pollinations.api_key)
    result = cli("image", "--engine", "pollinations", "--prompt", "a fox", "--out", str(tmp_path / "a.png"))
    assert result.code == 0, result.explain()
    assert pollinations.requests[-1].path == "/image/a fox"
    assert pollinations.requests[-1].headers["authorization"] == f"Bearer {pollinations.api_key}"
    monkeypatch.setenv("POLLINATIONS_TOKEN", "pk_wrong")
    denied = cli("image", "--engine", "pollinations", "--prompt", "a fox", "--out", str(tmp_path / "a.png"))
    assert denied.code == 1
    assert "HTTP 401: Authentication required" in denied.err
