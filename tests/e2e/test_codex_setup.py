"""Acceptance 3 of the providers issue: the printed Codex setup works in the real Codex CLI 0.169.0.

For MiMo, DeepSeek and a generic provider, the output of ``print-config``, ``print-config --env-key``
and ``print-cc-switch`` is written into a fresh ``CODEX_HOME`` the way a user pastes it; Codex must
accept it with ``--strict-config`` and a ``codex exec`` run must reach mimo2codex (and through it the
provider's fake vendor). Through the model catalog the snippets point at, Codex must offer
``apply_patch`` to these third-party models and use the model's configured context window.

The Codex binary is required: ``scripts/test`` installs it into ``.cache/codex``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.cli import main
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.codex_cli import CodexCLI, CodexConfig, CodexResult
from tests.fakes.strict_upstream import Reply, StrictUpstream, VendorRules
from tests.live import LiveGateway

pytestmark = [pytest.mark.codex, pytest.mark.live]

RUN_TIMEOUT = 60.0
#: Codex reports this share of the configured window as usable (``effective_context_window_percent``)
EFFECTIVE = 0.95

PROVIDERS = {  # handle -> (default model, its context window)
    "mimo": ("mimo-v2.5-pro", 131072),
    "ds": ("deepseek-v4-pro", 1_000_000),
    "qwen": ("qwen3-coder-plus", 262144),
}
VARIANTS = {
    "print-config": ["print-config"],
    "env-key": ["print-config", "--env-key"],
    "cc-switch": ["print-cc-switch"],
}


@dataclass
class Stack:
    gateway: LiveGateway
    vendors: dict[str, StrictUpstream]
    env: dict[str, str]

    @property
    def port(self) -> str:
        return str(self.gateway.port)


def _answer(body: dict[str, Any], number: int) -> Reply:
    return Reply.text(f"hello from {body['model']}")


@pytest.fixture
def stack(tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway) -> Stack:
    vendors = {
        "mimo": start_upstream(_answer, rules=VendorRules.mimo(), api_key="sk-mimo-upstream"),
        "ds": start_upstream(_answer, rules=VendorRules.deepseek_v4(), api_key="sk-deepseek-upstream"),
        "qwen": start_upstream(_answer, api_key="sk-qwen-upstream"),
    }
    data = tmp_path / "data"
    data.mkdir()
    qwen = {
        "id": "qwen",
        "displayName": "Qwen",
        "baseUrl": vendors["qwen"].url,
        "envKey": "QWEN_API_KEY",
        "defaultModel": "qwen3-coder-plus",
        "models": [
            {"id": "qwen3-coder-plus", "contextWindow": 262144},
            {"id": "qwen3-vl-plus", "supportsImages": True},
        ],
    }
    (data / "providers.json").write_text(json.dumps({"providers": [qwen]}), encoding="utf-8")
    env = {
        "MIMO2CODEX_DATA_DIR": str(data),
        "MIMO_API_KEY": vendors["mimo"].api_key,
        "MIMO_BASE_URL": vendors["mimo"].url,
        "DS_API_KEY": vendors["ds"].api_key,
        "DEEPSEEK_BASE_URL": vendors["ds"].url,
        "QWEN_API_KEY": vendors["qwen"].api_key,
        "MIMO2CODEX_MAX_RETRIES": "0",
    }
    return Stack(start_gateway(load_settings(env)), vendors, env)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A process environment with none of the user's own mimo2codex / vendor variables."""
    for name in list(os.environ):
        if name.startswith(("MIMO", "DS_", "DEEPSEEK_", "GENERIC_", "QWEN_")):
            monkeypatch.delenv(name)
    return monkeypatch


def printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *argv: str
) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def install(home: Path, variant: str, text: str) -> None:
    """Write the printed output into CODEX_HOME the way the comments tell a user to."""
    if variant == "env-key":
        (home / "config.toml").write_text(text, encoding="utf-8")  # the whole output is the file
        (home / "auth.json").unlink(missing_ok=True)
        return
    if variant == "cc-switch":
        auth, config = text.split("# ---- config.toml")
        auth_json = auth.split("# ---- auth.json (paste into the auth.json box) ----\n")[1]
        (home / "auth.json").write_text(auth_json.strip() + "\n", encoding="utf-8")
        (home / "config.toml").write_text(config.split("\n", 1)[1], encoding="utf-8")
        return
    auth_json = re.search(r"^\{\n.*?^\}\n", text, re.MULTILINE | re.DOTALL)
    assert auth_json is not None, text
    (home / "auth.json").write_text(auth_json.group(0), encoding="utf-8")
    (home / "config.toml").write_text(text.split("config.toml).\n", 1)[1], encoding="utf-8")


def reported_window(home: Path) -> int:
    """The ``model_context_window`` Codex recorded for the turn (what its status line shows)."""
    windows = [
        json.loads(line)["payload"]["model_context_window"]
        for rollout in home.glob("sessions/**/*.jsonl")
        for line in rollout.read_text(encoding="utf-8").splitlines()
        if '"task_started"' in line
    ]
    assert windows, f"no task_started event under {home}/sessions"
    return int(windows[-1])


def run_codex(
    codex_bin: Path, tmp_path: Path, name: str, variant: str, text: str, model: str
) -> tuple[CodexResult, Path]:
    home = tmp_path / f"home-{name}"
    # The harness writes its own config; ours replaces it below (its catalog file is not used).
    codex = CodexCLI(home, tmp_path / f"work-{name}", CodexConfig(base_url="http://127.0.0.1:9/v1", model=model))
    (home / "catalog.json").unlink(missing_ok=True)
    install(home, variant, text)
    env = {"MIMO2CODEX_KEY": "anything"} if variant == "env-key" else {}
    return codex.run("say hello", timeout=RUN_TIMEOUT, extra_args=["--strict-config"], env=env), home


def test_every_snippet_is_accepted_and_reaches_the_vendor(
    tmp_path: Path, codex_bin: Path, stack: Stack, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = []
    for handle, (model, _window) in PROVIDERS.items():
        for variant, command in VARIANTS.items():
            text = printed(capsys, cli_env, stack.env, *command, "--model", handle, "--port", stack.port)
            jobs.append((f"{handle}-{variant}", handle, variant, text, model))
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [
            pool.submit(run_codex, codex_bin, tmp_path, name, variant, text, model)
            for name, _, variant, text, model in jobs
        ]
        outcomes = [future.result() for future in futures]

    for (name, handle, _variant, _text, model), (result, home) in zip(jobs, outcomes, strict=True):
        assert result.ok, f"{name}:\n{result.explain()}"
        assert result.final_message == f"hello from {model}", name
        assert reported_window(home) == int(PROVIDERS[handle][1] * EFFECTIVE), name
        assert not [e for e in result.items("error") if "metadata" in str(e.get("message", ""))], name
    for handle, vendor in stack.vendors.items():
        assert vendor.violations == []
        assert len(vendor.chat_requests) == len(VARIANTS)
        for body in vendor.bodies:
            assert body["model"] == PROVIDERS[handle][0]
            names = {tool["function"]["name"] for tool in body["tools"]}
            assert "apply_patch" in names, names  # offered only through the catalog (CONTRACT §3.1)
            assert not any(tool["function"]["name"] == "web_search" for tool in body["tools"])


def test_the_catalog_file_variant(
    tmp_path: Path, codex_bin: Path, stack: Stack, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    written = printed(capsys, cli_env, stack.env, "write-catalog", "--model", "ds")
    catalog = Path(stack.env["MIMO2CODEX_DATA_DIR"]) / "codex-models.json"
    assert f"model_catalog_json = {json.dumps(str(catalog))}" in written
    text = printed(
        capsys, cli_env, stack.env, "print-config", "--env-key", "--catalog-json", "--model", "ds", "--port", stack.port
    )
    assert "model_catalog_url" not in text
    result, home = run_codex(codex_bin, tmp_path, "ds-catalog-file", "env-key", text, "deepseek-v4-pro")
    assert result.ok, result.explain()
    assert reported_window(home) == int(1_000_000 * EFFECTIVE)
    assert "apply_patch" in {t["function"]["name"] for t in stack.vendors["ds"].bodies[-1]["tools"]}


def test_codex_sees_the_catalog_models(
    tmp_path: Path, codex_bin: Path, stack: Stack, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``codex debug models`` with the printed config: Codex's effective catalog is ours."""
    text = printed(capsys, cli_env, stack.env, "print-config", "--env-key", "--model", "qwen", "--port", stack.port)
    home = tmp_path / "home-debug"
    home.mkdir()
    install(home, "env-key", text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env.update(CODEX_HOME=str(home), MIMO2CODEX_KEY="anything", NO_COLOR="1")
    output = subprocess.run(
        [str(codex_bin), "debug", "models"], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=True
    ).stdout
    models = {m["slug"]: m for m in json.loads(output)["models"]}
    assert models["qwen3-coder-plus"]["context_window"] == 262144
    assert models["qwen3-vl-plus"]["input_modalities"] == ["text", "image"]
    assert models["deepseek-v4-pro"]["context_window"] == 1_000_000
    # Text-only, but the vision bridge reads images for it with mimo-v2.5: Codex must send them.
    assert models["mimo-v2.5-pro"]["input_modalities"] == ["text", "image"]
    assert {m["apply_patch_tool_type"] for m in models.values()} == {"freeform"}
    assert not any(slug.startswith("gpt-") for slug in models)  # the catalog replaced Codex's bundled one
