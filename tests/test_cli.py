"""The command line: the Node tool's flags, subcommands, clear errors, the banner; keys never leak."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimo2codex import __version__, cli
from mimo2codex.banner import render_banner
from mimo2codex.options import OPTIONS
from mimo2codex.settings import Settings, load_settings
from mimo2codex.snippets import render_snippets

KEY = "sk-the-real-upstream-key-0123456789"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for name in list(os.environ):
        if name.startswith(("MIMO", "DS_", "DEEPSEEK_", "GENERIC_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MIMO2CODEX_DATA_DIR", str(tmp_path))
    return monkeypatch


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--version", "-V"):
        assert run(capsys, flag) == (0, f"mimo2codex {__version__}\n", "")
    code, out, _ = run(capsys, "-h")
    assert code == 0
    for option in OPTIONS:
        assert option.flag in out or option.flag_off in out
    for command in ("print-config", "print-cc-switch", "write-catalog"):
        assert command in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--port", "abc"], "argument --port/-p: a port is a number from 0 to 65535, got 'abc'"),
        (["-p", "70000"], "argument --port/-p: a port is a number from 0 to 65535, got 70000"),
        (["--max-body", "0"], "argument --max-body: must be a positive size, got '0'"),
        (["--prot=1"], "unrecognized arguments: --prot=1"),  # no abbreviations
        (["print-config", "--env-keys"], "unrecognized arguments: --env-keys"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_startup_error_names_the_variable(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2
    assert out == ""
    assert err.startswith(
        "mimo2codex: configuration error: the default provider MiMo ('mimo') has no API key: set MIMO_API_KEY"
    )


def test_print_config_uses_the_one_renderer(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("MIMO2CODEX_PORT", "9100")
    expected = render_snippets(load_settings(serving=False), "ds")
    assert run(capsys, "print-config", "--model", "ds") == (0, expected.print_config(), "")
    assert run(capsys, "print-config", "--model", "ds", "--env-key") == (0, expected.print_config(env_key=True), "")
    assert run(capsys, "print-cc-switch", "--model", "ds") == (0, expected.print_cc_switch(), "")
    assert 'base_url = "http://127.0.0.1:9100/v1"' in expected.config_toml  # the env var is honoured


def test_options_work_before_and_after_the_command(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    before = run(capsys, "--port", "9001", "--host", "localhost", "print-config", "--model", "ds")
    after = run(capsys, "print-config", "--model", "ds", "--port", "9001", "--host", "localhost")
    assert before == after
    assert 'base_url = "http://localhost:9001/v1"' in before[1]


def test_print_config_defaults_to_the_default_provider(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("MIMO2CODEX_DEFAULT_PROVIDER", "deepseek")
    assert 'model_provider = "mimo2codex"' in run(capsys, "print-config")[1]
    env.delenv("MIMO2CODEX_DEFAULT_PROVIDER")
    assert 'model_provider = "mimo"' in run(capsys, "print-config")[1]


def test_print_config_unknown_provider(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "print-config", "--model", "claude")
    assert code == 2
    assert "--model=claude: no provider has that id or shortcut. Known providers: mimo, ds (deepseek)" in err


def test_write_catalog(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env.setenv("DS_API_KEY", KEY)
    code, out, _ = run(capsys, "write-catalog")
    path = tmp_path / "codex-models.json"
    assert code == 0
    assert f"wrote 4 models to {path}" in out
    assert f'model_catalog_json = "{path}"' in out
    text = path.read_text()
    assert next(m["slug"] for m in json.loads(text)["models"]) == "deepseek-v4-pro"
    assert KEY not in text
    assert KEY[-6:] not in text
    code, out, _ = run(capsys, "write-catalog", "--output", str(tmp_path / "x" / "c.json"), "--model", "mimo")
    assert code == 0
    assert {m["slug"] for m in json.loads((tmp_path / "x" / "c.json").read_text())["models"]} >= {
        "mimo-v2.5-pro",
        "deepseek-v4-pro",
    }


def test_serve_prints_the_banner_and_never_the_key(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    served: list[Settings] = []
    env.setattr(cli, "serve", served.append)
    env.setattr(cli, "configure_logging", lambda verbose: None)
    env.setenv("MIMO_API_KEY", KEY)
    code, out, err = run(capsys, "--port", "9002", "-v", "--no-reasoning", "--web-search", "--no-admin")
    assert code == 0
    assert err == ""
    (settings,) = served
    assert (settings.port, settings.verbose, settings.expose_reasoning, settings.web_search, settings.admin) == (
        9002,
        True,
        False,
        True,
        False,
    )
    assert KEY not in out
    assert "sk-…6789" in out
    assert "listening on http://127.0.0.1:9002/v1" in out
    assert "mimo2codex print-config --model mimo --port 9002" in out
    assert "\033[" not in out  # not a terminal: no colors


def test_api_key_flag_is_used_and_not_echoed(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    served: list[Settings] = []
    env.setattr(cli, "serve", served.append)
    env.setattr(cli, "configure_logging", lambda verbose: None)
    code, out, _ = run(capsys, "--model", "ds", "--api-key", KEY, "--base-url", "http://127.0.0.1:1/v1")
    assert code == 0
    assert KEY not in out
    assert served[0].default.api_key is not None
    assert served[0].default.api_key.reveal() == KEY
    assert served[0].default.base_url == "http://127.0.0.1:1/v1"


def test_banner(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "MIMO2CODEX_DATA_DIR": str(tmp_path),
            "MIMO_API_KEY": "tp-abcdefgh1234",
            "MIMO_BASE_URL": "https://api.xiaomimimo.com/v1",
            "MIMO2CODEX_DISABLE_THINKING": "1",
        }
    )
    plain = render_banner(settings)
    assert "MiMo (mimo) (default)" in plain
    assert "tp-…1234" in plain
    assert "tp-abcdefgh1234" not in plain
    assert "upstream https://api.xiaomimimo.com/v1  [MIMO_BASE_URL]" in plain
    assert "mimo-v2.5-pro, mimo-v2.5-pro[1m]" in plain
    assert "mimo-v2-pro" not in plain
    assert "without a key (their models go to the default): ds" in plain
    assert "thinking disabled upstream" in plain
    assert f"data dir          {tmp_path}" in plain
    assert "admin             http://127.0.0.1:8788/admin" in plain
    assert "warning: MiMo: the API key from MIMO_API_KEY starts with 'tp-'" in plain
    assert "Codex setup: mimo2codex print-config --model mimo  (" in plain
    colored = render_banner(settings, color=True)
    assert "\033[" in colored
    assert "\033[" not in plain


def test_print_config_for_a_gateway_on_all_interfaces(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "print-config", "--host", "0.0.0.0", "--port", "9003")
    assert code == 0
    assert 'base_url = "http://127.0.0.1:9003/v1"' in out  # printing listens on nothing: no bind check
    env.setenv("MIMO_API_KEY", KEY)
    code, _, err = run(capsys, "--host", "0.0.0.0")
    assert code == 2
    assert "refusing to listen on 0.0.0.0 without inbound tokens" in err
