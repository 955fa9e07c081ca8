"""The pattern set (Hyperscan): one pass answers whether any pattern occurs; without it, None."""

from __future__ import annotations

import builtins
import logging
import platform
import re
import sys
import threading
from typing import Any

import pytest

from mimo2codex import pattern_set
from mimo2codex.pattern_set import compile_set, escaped


def test_hyperscan_runs_where_it_has_a_wheel() -> None:
    # the fast path is the one CI must test: on these machines the set compiles
    if sys.implementation.name == "cpython" and platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64"):
        assert compile_set([rb"x"], [False]) is not None


def test_any_in_answers_for_every_pattern_case_as_asked() -> None:
    patterns = compile_set([rb"secret", rb"k(?:ey|en)[:=]", rb"Exact"], [True, True, False])
    if patterns is None:
        pytest.skip("hyperscan cannot run on this machine")  # the callers' fallback is tested there
    assert not patterns.any_in(b"")
    assert not patterns.any_in(b"nothing here, not even a key")
    assert patterns.any_in(b"the SeCrEt is out")
    assert patterns.any_in(b"api_KEY=")
    assert patterns.any_in(b"tokEN:")
    assert not patterns.any_in(b"exact, EXACT")  # case-sensitive as asked
    assert patterns.any_in(b"Exact")
    assert not patterns.any_in("sécret ſecret".encode())  # only ASCII letters fold, as bytes.lower()


def test_threads_scan_at_once_each_with_its_own_scratch() -> None:
    patterns = compile_set([rb"needle"], [False])
    if patterns is None:
        pytest.skip("hyperscan cannot run on this machine")
    hay = b"hay " * 50_000
    errors: list[BaseException] = []

    def scan(data: bytes, expected: bool) -> None:
        try:
            for _ in range(200):
                assert patterns.any_in(data) is expected
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(hay + (b"needle" if i % 2 else b""), bool(i % 2))) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_without_hyperscan_the_set_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_hyperscan(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "hyperscan":
            raise ImportError("no hyperscan here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_hyperscan)
    assert compile_set([rb"x"], [False]) is None


def test_a_library_that_cannot_run_here_is_reported_once_and_left(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hyperscan = pytest.importorskip("hyperscan")

    def refuse(*_: Any, **__: Any) -> None:
        raise hyperscan.ArchitectureError("this CPU lacks SSSE3")

    monkeypatch.setattr(pattern_set.PatternSet, "__init__", refuse)
    with caplog.at_level(logging.WARNING, logger="mimo2codex.pattern_set"):
        assert compile_set([rb"x"], [False]) is None
    assert "cannot run here" in caplog.text
    assert "SSSE3" in caplog.text


def test_escaped_bytes_match_only_themselves() -> None:
    every = bytes(range(256))
    assert re.fullmatch(escaped(every), every)
    patterns = compile_set([escaped(b"a.*[(\\")], [False])
    if patterns is None:
        pytest.skip("hyperscan cannot run on this machine")
    assert patterns.any_in(b"x a.*[(\\ y")
    assert not patterns.any_in(b"abbb[(\\")  # "." and "*" were not pattern syntax
