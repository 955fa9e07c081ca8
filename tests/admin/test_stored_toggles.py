"""A gateway that starts applies the toggles and storage policy the admin stored (admin/stored_toggles.py).

Precedence: a flag or env var wins (and locks its toggle), then the stored value, then the default. A
stored value that no longer loads never stops the start: it is ignored with one warning naming it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.events import EventHub
from mimo2codex.admin.runtime import LiveConfig
from mimo2codex.admin.stored_toggles import startup_settings
from mimo2codex.admin.watcher import sync_store
from mimo2codex.errors import ConfigError
from mimo2codex.gateway import Gateway
from mimo2codex.settings import load_settings
from mimo2codex.store.postgres import PostgresStore
from mimo2codex.store.sqlite import SqliteStore
from tests.admin.conftest import ACME, MIMO_KEY, Admin, chat_reply
from tests.admin.test_carry_over import GENERIC_ENV
from tests.fakes.transport import ScriptedTransport

#: only the GENERIC_* provider has a key at first, so it is the default by the implicit rule
ONLY_GENERIC = {**GENERIC_ENV, "MIMO_API_KEY": "", "DS_API_KEY": ""}


def _toggles(admin: Admin) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in admin.api("GET", "toggles").json()["toggles"]}


def _routed(admin: Admin, model: str) -> str:
    admin.transport.replies.append(chat_reply())
    response = admin.ask(model)
    assert response.status_code == 200, response.text
    return str(response.headers["x-mimo2codex-provider"])


def _ignored(warnings: Any, name: str) -> list[str]:
    return [w for w in warnings if f"stored setting {name} " in w]


def test_the_carried_default_provider_survives_a_restart(tmp_path: Path) -> None:
    first = Admin(tmp_path, ONLY_GENERIC)
    with first.client:
        saved = first.api("PUT", "generic-providers", json={"providers": [ACME]})  # ACME's key is set
        assert saved.status_code == 200, saved.text
        assert saved.json()["carried"][0]["keptDefault"] is True
        assert first.api("PUT", "toggles/thinking", json={"value": False}).status_code == 200
        assert first.api("PUT", "storage", json={"log_retention_days": 9}).status_code == 200
    env = first.env
    # two keyed providers now, and the usual default (MiMo) has no key: without the stored toggle the
    # start is refused, which is what the user hit after a restart
    with pytest.raises(ConfigError, match="no API key"):
        load_settings(env)

    again = Admin(tmp_path, ONLY_GENERIC, existing_data_dir=True, load=startup_settings)
    assert again.settings.default.id == "generic"
    assert again.settings.thinking is False
    assert again.settings.log_retention_days == 9
    assert not _ignored(again.settings.warnings, "default_provider")
    with again.client:
        toggles = _toggles(again)
        assert toggles["default_provider"]["value"] == "generic"
        assert toggles["default_provider"]["source"] == "admin"  # stored, not locked: changeable here
        assert toggles["default_provider"]["locked_by"] is None
        assert toggles["thinking"]["source"] == "admin"
        assert toggles["web_search"]["source"] == "default"
        assert _routed(again, "whatever-model") == "generic"
        assert _routed(again, "acme-large") == "acme"
        assert again.api("GET", "storage").json()["locked_by"]["log_retention_days"] is None
        # reset in the admin, the stored value goes: the next start takes the default
        assert again.api("DELETE", "toggles/thinking").status_code == 200
        assert "thinking" not in again.gateway.store.settings()
    assert startup_settings(env).thinking is True


def test_an_env_var_still_wins_and_locks_the_toggle(tmp_path: Path) -> None:
    first = Admin(tmp_path, ONLY_GENERIC)
    with first.client:
        assert first.api("PUT", "generic-providers", json={"providers": [ACME]}).status_code == 200
        assert first.api("PUT", "toggles/expose_reasoning", json={"value": False}).status_code == 200
    env = {**ONLY_GENERIC, "MIMO2CODEX_DEFAULT_PROVIDER": "acme", "MIMO2CODEX_NO_REASONING": "0"}
    again = Admin(tmp_path, env, existing_data_dir=True, load=startup_settings)
    assert again.settings.default.id == "acme"
    assert again.settings.expose_reasoning is True
    with again.client:
        toggles = _toggles(again)
        assert toggles["default_provider"]["locked_by"] == "MIMO2CODEX_DEFAULT_PROVIDER"
        assert toggles["default_provider"]["source"] == "env"
        assert toggles["expose_reasoning"]["locked_by"] == "MIMO2CODEX_NO_REASONING"
        assert toggles["expose_reasoning"]["value"] is True
        assert _routed(again, "whatever-model") == "acme"
        assert again.gateway.store.settings()["default_provider"] == "generic"  # kept for when the env var goes


def test_a_stored_value_that_no_longer_loads_is_ignored_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = Admin(tmp_path, {"DS_API_KEY": ""})
    with first.client:
        store = first.gateway.store
        store.put_setting("default_provider", "acme")  # a provider that is not configured (any more)
        store.put_setting("vision_model", "no slash here")  # not PROVIDER/MODEL
        assert first.api("PUT", "toggles/web_search", json={"value": True}).status_code == 200
    caplog.set_level(logging.WARNING, logger="mimo2codex.admin")
    caplog.clear()
    again = Admin(tmp_path, {"DS_API_KEY": ""}, existing_data_dir=True, load=startup_settings)
    assert again.settings.default.id == "mimo"  # the fallback: the default without the stored value
    assert again.settings.vision_model is None
    assert again.settings.web_search is True  # the valid one still applies
    (provider,) = _ignored(again.settings.warnings, "default_provider")
    assert 'stored setting default_provider = "acme" no longer applies' in provider
    assert "(no provider" in provider
    assert "Known providers: mimo" in provider
    assert len(_ignored(again.settings.warnings, "vision_model")) == 1
    with again.client:
        toggles = _toggles(again)
        assert toggles["default_provider"]["source"] == "default"
        assert toggles["web_search"]["source"] == "admin"
        assert _routed(again, "whatever-model") == "mimo"
        health = again.api("GET", "health").json()
        assert health["reload"]["ok"] is True
        # the banner said it; the admin's first look at the store does not log it again
        assert not [r for r in caplog.records if "stored setting" in r.getMessage()]
        # set again in the admin, it applies
        assert again.api("PUT", "toggles/default_provider", json={"value": "mimo"}).status_code == 200


def test_the_watcher_warns_once_about_a_stored_toggle_that_does_not_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path)}
    store = SqliteStore(tmp_path / "data.db")
    store.open()
    try:
        store.put_setting("default_provider", "gone")
        store.put_setting("thinking", False)
        settings = load_settings(env)  # started without startup_settings: the watcher applies them
        gateway = Gateway(settings, settings.router(), ScriptedTransport(), [], store)
        ctx = AdminContext(LiveConfig(settings, env), EventHub(), env, store=store)
        ctx.attach(gateway, store)
        caplog.set_level(logging.WARNING, logger="mimo2codex.admin")

        async def polls() -> None:
            for _ in range(4):
                await sync_store(ctx)

        asyncio.run(polls())
        warned = [r.getMessage() for r in caplog.records if "stored setting" in r.getMessage()]
        assert len(warned) == 1, warned
        assert "default_provider" in warned[0]
        assert gateway.settings.thinking is False
        assert gateway.settings.default.id == "mimo"
        assert ctx.reload.ok
        assert _ignored(ctx.reload.warnings, "default_provider")
        # another instance stores a value that loads: it applies at the next poll
        store.put_setting("default_provider", "mimo")
        asyncio.run(polls())
        assert ctx.live.toggles["default_provider"] == "mimo"
    finally:
        store.close()


def test_an_unreadable_database_does_not_stop_the_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "data.db").write_bytes(b"not a database at all " * 300)
    env = {"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path)}
    caplog.set_level(logging.WARNING, logger="mimo2codex.admin")
    settings = startup_settings(env)
    assert settings.default.id == "mimo"
    (line,) = [r.getMessage() for r in caplog.records]
    assert "cannot be read" in line
    assert "starting without them" in line


@pytest.mark.live
def test_the_stored_settings_of_a_shared_postgresql_database_apply(tmp_path: Path, postgres_url: str) -> None:
    env = {
        "MIMO_API_KEY": MIMO_KEY,
        "DS_API_KEY": "sk-test-deepseek-key-0123456789",
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
        "MIMO2CODEX_DATABASE_URL": postgres_url,
    }
    assert startup_settings(env).default.id == "mimo"  # an empty database: nothing stored, no table yet
    store = PostgresStore(postgres_url)
    store.open()
    try:
        store.put_setting("default_provider", "deepseek")
        store.put_setting("log_bodies", "full")
        store.put_setting("auto_compact", True)
    finally:
        store.close()
    settings = startup_settings(env)
    assert (settings.default.id, settings.log_bodies, settings.auto_compact) == ("deepseek", "full", True)
    assert "default_provider" not in settings.sources  # not locked: the admin may change it
    locked = startup_settings({**env, "MIMO2CODEX_LOG_BODIES": "off"})
    assert (locked.log_bodies, locked.sources["log_bodies"]) == ("off", "MIMO2CODEX_LOG_BODIES")
    assert locked.default.id == "deepseek"
