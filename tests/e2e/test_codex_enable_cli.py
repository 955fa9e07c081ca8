"""Issue 9, Codex setup in one step: what ``codex enable`` writes passes the real Codex CLI 0.169.0
with ``--strict-config`` and reaches the vendor through mimo2codex, in both login modes; ``codex
restore`` then leaves the user's config.toml and auth.json byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimo2codex.codex_setup import enable, restore
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.codex_cli import CodexCLI, CodexConfig
from tests.fakes.strict_upstream import Reply, VendorRules

pytestmark = [pytest.mark.codex, pytest.mark.live]

USER_CONFIG = """\
# hand-written; every line below must survive enable + restore
approval_policy = "never"   # trailing comment

[projects."/tmp/some-project"]
trust_level = "trusted"

[mcp_servers.docs]
command = "true"
enabled = false

[model_providers.other]
name = "Other"
base_url = "http://127.0.0.1:9/v1"
env_key = "OTHER_KEY"
"""
CHATGPT_AUTH = '{\n  "OPENAI_API_KEY": null,\n  "tokens": null\n}\n'


@pytest.mark.parametrize("keep_login", [False, True], ids=["auth-json", "keep-login"])
def test_enable_is_accepted_by_strict_config_and_restore_is_exact(
    tmp_path: Path, codex_bin: Path, start_upstream: StartUpstream, start_gateway: StartGateway, keep_login: bool
) -> None:
    vendor = start_upstream(lambda body, n: Reply.text("hello through enable"), rules=VendorRules.deepseek_v4())
    env = {
        "DS_API_KEY": vendor.api_key,
        "DEEPSEEK_BASE_URL": vendor.url,
        "MIMO2CODEX_DATA_DIR": str(tmp_path / "data"),
        "MIMO2CODEX_MAX_RETRIES": "0",
    }
    gateway = start_gateway(load_settings({**env, "MIMO2CODEX_DEFAULT_PROVIDER": "ds"}))
    home = tmp_path / "codex-home"
    codex = CodexCLI(home, tmp_path / "work", CodexConfig(base_url="http://127.0.0.1:9/v1"), binary=codex_bin)
    (home / "catalog.json").unlink(missing_ok=True)
    (home / "config.toml").write_text(USER_CONFIG, encoding="utf-8")
    (home / "auth.json").write_text(CHATGPT_AUTH, encoding="utf-8")

    settings = load_settings({**env, "MIMO2CODEX_PORT": str(gateway.port)}, {"default_provider": "ds"}, serving=False)
    enable(settings, home, keep_login=keep_login)
    result = codex.run("say hello", timeout=60, extra_args=["--strict-config"])

    assert result.ok, result.explain()
    assert result.final_message == "hello through enable"
    assert vendor.violations == []
    assert vendor.bodies[-1]["model"] == "deepseek-v4-pro"
    assert "apply_patch" in {tool["function"]["name"] for tool in vendor.bodies[-1]["tools"]}  # via the catalog URL
    restore(home)
    assert (home / "config.toml").read_bytes() == USER_CONFIG.encode()
    assert (home / "auth.json").read_bytes() == CHATGPT_AUTH.encode()
