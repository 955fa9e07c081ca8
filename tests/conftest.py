"""Shared fixtures for the live ring: factories whose servers stop when the test ends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mimo2codex.settings import Settings
from tests.fakes.strict_upstream import Script, StrictUpstream, VendorRules
from tests.live import LiveGateway
from tests.postgres_server import postgres_server, postgres_url  # noqa: F401  (fixtures)

StartUpstream = Callable[..., StrictUpstream]
StartGateway = Callable[..., LiveGateway]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default data dir is ~/.mimo2codex: a developer's own providers.json must not change what
    # a test's settings mean (a providers file makes GENERIC_* ignored).
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
def _live_stack() -> Iterator[contextlib.ExitStack]:
    # One stack for both factories: servers stop in reverse order (the gateway before its upstream).
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def start_upstream(_live_stack: contextlib.ExitStack) -> StartUpstream:
    """``start_upstream(script, rules=VendorRules.deepseek_v4())``: a running :class:`StrictUpstream`."""

    def start(script: Script = (), *, rules: VendorRules | None = None, **options: Any) -> StrictUpstream:
        return _live_stack.enter_context(StrictUpstream(script, rules=rules, **options).running())

    return start


@pytest.fixture
def start_gateway(_live_stack: contextlib.ExitStack) -> StartGateway:
    """``start_gateway(settings)``: a running :class:`LiveGateway` (``.url``, ``.records``, ``.loop``)."""

    def start(settings: Settings, **options: Any) -> LiveGateway:
        return _live_stack.enter_context(LiveGateway(settings, **options))

    return start
