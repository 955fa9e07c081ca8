"""The protocol core stays pure: no I/O, no clock, no framework, no asyncio (see protocol/__init__.py).

Every module of ``mimo2codex.protocol`` is imported (so a missing one fails loudly) and its source
scanned: a forbidden import or a call to ``open()`` fails the test.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import mimo2codex.protocol

FORBIDDEN = frozenset(
    {
        # I/O, processes, the clock, logging
        "asyncio",
        "socket",
        "os",
        "time",
        "logging",
        "subprocess",
        "threading",
        "sqlite3",
        "pathlib",
        "io",
        "multiprocessing",
        "concurrent",
        "selectors",
        "signal",
        "shutil",
        "tempfile",
        "urllib",
        "http",
        "ssl",
        # non-determinism: ids and timestamps come from the caller
        "uuid",
        "random",
        "secrets",
        "datetime",
        # frameworks and HTTP clients
        "starlette",
        "aiohttp",
        "httpx",
        "uvicorn",
        "requests",
    }
)
FORBIDDEN_CALLS = frozenset({"open", "print", "input", "__import__", "exec", "eval"})


def _modules() -> list[str]:
    package = mimo2codex.protocol
    found = [package.__name__]
    found += [info.name for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")]
    return sorted(found)


def violations(source: str) -> list[str]:
    """Forbidden imports and calls in ``source``, as ``"line N: ..."`` strings."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            roots = [(node.module or "").split(".")[0]] if node.level == 0 else []
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            problems.append(f"line {node.lineno}: calls {node.func.id}()")
            continue
        else:
            continue
        problems += [f"line {node.lineno}: imports {root}" for root in roots if root in FORBIDDEN]
    return problems


def test_the_protocol_package_has_the_expected_core_modules() -> None:
    modules = _modules()
    for name in ("arguments", "notes", "profile", "reasoning", "request", "toolmap", "tools"):
        assert f"mimo2codex.protocol.{name}" in modules


@pytest.mark.parametrize("name", _modules())
def test_protocol_module_is_pure(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    assert violations(inspect.getsource(module)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "import os.path",
        "from time import monotonic",
        "import asyncio as aio",
        "from starlette.responses import Response",
        "def f():\n    import logging",
        "data = open('x').read()",
        "import uuid",
    ],
)
def test_the_scanner_catches_impurity(source: str) -> None:
    assert violations(source) != []


def test_the_scanner_allows_pure_imports() -> None:
    assert violations("import re\nimport base64\nfrom typing import Any\nimport orjson\nfrom . import notes") == []
