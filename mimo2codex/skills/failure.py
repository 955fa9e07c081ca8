"""The helper commands' failures, and the one place they become a message and an exit code.

Part of the one exception tree (:mod:`mimo2codex.errors`)::

    Mimo2CodexError
    └── ToolError                 a helper command failed on purpose; ``exit_code`` says how
        ├── UsageError            2  bad usage or input (a missing file, an oversized image, a refusal)
        ├── ServiceError          1  the gateway, a provider or an image engine failed or is unreachable
        │   └── InvalidOutput     1  the model answered, but not in the shape the command promised
        └── MissingKey            3  an explicitly chosen engine or provider has no key

:func:`guarded` wraps a command's ``run``: an expected failure prints one line on stderr (and the
JSON envelope on stdout with ``--json``) and returns its exit code; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from mimo2codex.errors import Mimo2CodexError
from mimo2codex.redaction import redact
from mimo2codex.settings import Settings

EXIT_OK = 0
EXIT_UPSTREAM = 1
EXIT_USAGE = 2
EXIT_MISSING_KEY = 3


class ToolError(Mimo2CodexError):
    exit_code: ClassVar[int] = EXIT_UPSTREAM
    kind: ClassVar[str] = "tool_error"

    def __init__(self, message: str) -> None:
        # Service error texts can echo a rejected key: scrub where every message is born.
        message = redact(message)
        super().__init__(message)
        self.message = message


class UsageError(ToolError):
    exit_code = EXIT_USAGE
    kind = "usage_error"


class ServiceError(ToolError):
    exit_code = EXIT_UPSTREAM
    kind = "service_error"


class InvalidOutput(ServiceError):
    kind = "invalid_output"


class MissingKey(ToolError):
    exit_code = EXIT_MISSING_KEY
    kind = "missing_key"


Run = Callable[[argparse.Namespace, Settings], int]


def guarded(command: str, run: Run) -> Run:
    """``run`` with its expected failures reported as ``mimo2codex <command>: <message>``."""

    def wrapper(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return run(args, settings)
        except ToolError as exc:
            if getattr(args, "json", False):
                emit_json({"ok": False, "command": command, "error": {"type": exc.kind, "message": exc.message}})
            print(f"mimo2codex {command}: {exc.message}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print(f"mimo2codex {command}: interrupted", file=sys.stderr)
            return 130

    return wrapper


def emit_json(envelope: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(envelope, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
