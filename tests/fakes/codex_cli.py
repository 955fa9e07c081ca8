"""Drive the real Codex CLI (0.169.0) non-interactively against a local base URL.

Usage (the gateway listens on ``gateway_url``, e.g. ``http://127.0.0.1:8788/v1``)::

    codex = CodexCLI(tmp_path / "home", tmp_path / "work", CodexConfig(base_url=gateway_url))
    result = codex.run("write hi to out.txt")           # blocks: the gateway must run in another thread
    result = await codex.run_async("write hi")          # when the gateway runs in this event loop
    assert result.ok, result.explain()
    assert result.final_message == "done"
    again = codex.run("and now?", resume="--last")      # a second turn of the same session

What the harness fixes for every run (measured with 0.169.0, see tests/fakes/README.md):
``--skip-git-repo-check --dangerously-bypass-approvals-and-sandbox --color never --json``, stdin closed,
``--disable plugins`` (no github.com sync at start-up) and ``--disable unbounded_connection_retries``
(otherwise a refused connection retries forever instead of failing the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CODEX_VERSION",
    "CatalogModel",
    "CodexCLI",
    "CodexConfig",
    "CodexNotFound",
    "CodexResult",
    "codex_available",
    "find_codex",
    "render_config",
]

CODEX_VERSION = "0.169.0"
REPO_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = (
    REPO_ROOT / ".cache" / "codex" / "node_modules" / ".bin" / "codex",
    Path("/tmp/codexprobe/node_modules/.bin/codex"),  # the development machine's copy
)
INSTALL_HINT = (
    f"Install it with: npm install --prefix .cache/codex @openai/codex@{CODEX_VERSION}  "
    "(run in the repository root), or point MIMO2CODEX_CODEX_BIN at a codex binary."
)
# Keys Codex would read on its own; the harness passes only what the config names.
_SCRUBBED_ENV_PREFIXES = ("OPENAI_", "CODEX_", "AZURE_OPENAI", "RUST_LOG")

TomlValue = str | int | float | bool | Sequence["TomlValue"] | Mapping[str, "TomlValue"]


class CodexNotFound(RuntimeError):
    """The Codex CLI binary is not installed where the tests look for it."""


def find_codex() -> Path:
    """The codex binary: ``$MIMO2CODEX_CODEX_BIN``, else ``<repo>/.cache/codex/node_modules/.bin/codex``."""
    override = os.environ.get("MIMO2CODEX_CODEX_BIN")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise CodexNotFound(f"MIMO2CODEX_CODEX_BIN={override} is not an executable file. {INSTALL_HINT}")
        return path
    for path in _CANDIDATES:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    looked = ", ".join(str(p) for p in _CANDIDATES)
    raise CodexNotFound(f"Codex CLI {CODEX_VERSION} not found (looked in {looked}). {INSTALL_HINT}")


def codex_available() -> bool:
    try:
        find_codex()
    except CodexNotFound:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------

DEFAULT_INSTRUCTIONS = (
    "You are a coding agent running in the Codex CLI. Use the tools to inspect and change files in the "
    "workspace, then answer briefly."
)


@dataclass(frozen=True)
class CatalogModel:
    """One entry of a ``model_catalog_json`` file (Codex's ``ModelInfo``).

    Codex 0.169.0 refuses a catalog entry without any of: slug, display_name, supported_reasoning_levels,
    shell_type, visibility, supported_in_api, priority, support_verbosity, truncation_policy,
    experimental_supported_tools, base_instructions (or model_messages.instructions_template).
    Everything else has a default (see ``codex debug models``).
    """

    slug: str
    context_window: int = 131072
    #: True: apply_patch is sent as a freeform ``custom`` tool ("freeform" is the only variant in 0.169.0).
    apply_patch: bool = True
    #: ("text",) makes Codex treat the model as text-only.
    input_modalities: tuple[str, ...] = ("text", "image")
    #: Reasoning efforts offered (e.g. ("low", "medium", "high")); empty: none.
    reasoning_levels: tuple[str, ...] = ()
    default_reasoning_level: str | None = None
    default_reasoning_summary: str = "auto"
    supports_search_tool: bool = False
    shell_type: str = "unified_exec"
    base_instructions: str = DEFAULT_INSTRUCTIONS
    display_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "slug": self.slug,
            "display_name": self.display_name or self.slug,
            "supported_reasoning_levels": [{"effort": e, "description": e} for e in self.reasoning_levels],
            "shell_type": self.shell_type,
            "visibility": "list",
            "supported_in_api": True,
            "priority": 1,
            "support_verbosity": False,
            "truncation_policy": {"mode": "bytes", "limit": 10000},
            "experimental_supported_tools": [],
            "base_instructions": self.base_instructions,
            "context_window": self.context_window,
            "input_modalities": list(self.input_modalities),
            "supports_search_tool": self.supports_search_tool,
            "default_reasoning_summary": self.default_reasoning_summary,
        }
        if self.apply_patch:
            entry["apply_patch_tool_type"] = "freeform"
        if self.default_reasoning_level is not None:
            entry["default_reasoning_level"] = self.default_reasoning_level
        return entry


@dataclass(frozen=True)
class CodexConfig:
    """What goes into ``$CODEX_HOME/config.toml``."""

    base_url: str  # e.g. "http://127.0.0.1:8788/v1"; Codex appends /responses
    model: str = "mimo-v2.5-pro"
    api_key: str = "sk-codex-e2e"
    env_key: str = "MIMO2CODEX_E2E_KEY"
    provider_id: str = "mimo2codex"
    provider_name: str = "mimo2codex"  # never "OpenAI": that switches on remote compaction
    #: Transport retries (5xx, network) and turn-level retries. 0 = fail on the first error, which is
    #: what a test of the gateway's own recovery wants; the defaults of a real user are 4 and 5.
    request_max_retries: int = 0
    stream_max_retries: int = 0
    stream_idle_timeout_ms: int = 30_000
    #: True: write a model_catalog_json entry ``CatalogModel(slug=model)``; a CatalogModel: that entry;
    #: False: Codex's fallback metadata (no apply_patch tool, a "Model metadata ... not found" warning item).
    catalog: CatalogModel | bool = True
    web_search: str = "disabled"
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    context_window: int | None = None  # model_context_window
    auto_compact_token_limit: int | None = None  # model_auto_compact_token_limit
    #: Extra top-level keys / provider keys, rendered as TOML.
    top_level: Mapping[str, TomlValue] = field(default_factory=dict)
    provider: Mapping[str, TomlValue] = field(default_factory=dict)
    #: Features switched off with --disable (see the module docstring for why).
    disabled_features: tuple[str, ...] = ("plugins", "unbounded_connection_retries")

    def catalog_model(self) -> CatalogModel | None:
        if self.catalog is True:
            return CatalogModel(slug=self.model)
        if self.catalog is False:
            return None
        return self.catalog


def _toml(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def render_config(config: CodexConfig, catalog_path: Path | None) -> str:
    """The config.toml text for ``config`` (top-level keys first: TOML puts them before any table)."""
    top: dict[str, TomlValue] = {
        "model": config.model,
        "model_provider": config.provider_id,
        "web_search": config.web_search,
    }
    if catalog_path is not None:
        top["model_catalog_json"] = str(catalog_path)
    if config.reasoning_effort is not None:
        top["model_reasoning_effort"] = config.reasoning_effort
    if config.reasoning_summary is not None:
        top["model_reasoning_summary"] = config.reasoning_summary
    if config.context_window is not None:
        top["model_context_window"] = config.context_window
    if config.auto_compact_token_limit is not None:
        top["model_auto_compact_token_limit"] = config.auto_compact_token_limit
    top.update(config.top_level)
    provider: dict[str, TomlValue] = {
        "name": config.provider_name,
        "base_url": config.base_url,
        "env_key": config.env_key,
        "wire_api": "responses",
        "request_max_retries": config.request_max_retries,
        "stream_max_retries": config.stream_max_retries,
        "stream_idle_timeout_ms": config.stream_idle_timeout_ms,
    }
    provider.update(config.provider)
    lines = [f"{key} = {_toml(value)}" for key, value in top.items()]
    lines += ["", f"[model_providers.{config.provider_id}]"]
    lines += [f"{key} = {_toml(value)}" for key, value in provider.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass
class CodexResult:
    """One ``codex exec`` run. ``events`` are the ``--json`` JSONL objects from stdout."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]
    duration: float
    timed_out: bool
    last_message: str | None  # the -o file: Codex's final agent message, if any

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.turn_failure is None

    @property
    def thread_id(self) -> str | None:
        return next((e.get("thread_id") for e in self.events if e.get("type") == "thread.started"), None)

    def items(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Completed items (``agent_message``, ``reasoning``, ``command_execution``, ``file_change``,
        ``error`` -- Codex reports warnings such as fallback metadata as ``error`` items)."""
        found = [
            e["item"] for e in self.events if e.get("type") == "item.completed" and isinstance(e.get("item"), dict)
        ]
        return [i for i in found if kind is None or i.get("type") == kind]

    @property
    def agent_messages(self) -> list[str]:
        return [str(i.get("text", "")) for i in self.items("agent_message")]

    @property
    def final_message(self) -> str | None:
        messages = self.agent_messages
        return messages[-1] if messages else None

    @property
    def reasoning(self) -> list[str]:
        return [str(i.get("text", "")) for i in self.items("reasoning")]

    @property
    def commands(self) -> list[dict[str, Any]]:
        """Completed ``command_execution`` items: {command, aggregated_output, exit_code, status}."""
        return self.items("command_execution")

    @property
    def file_changes(self) -> list[dict[str, Any]]:
        return self.items("file_change")

    @property
    def errors(self) -> list[str]:
        """Top-level ``error`` events: "Reconnecting... n/N (...)" retries and the final error text."""
        return [str(e.get("message", "")) for e in self.events if e.get("type") == "error"]

    @property
    def reconnects(self) -> list[str]:
        return [m for m in self.errors if m.startswith("Reconnecting...")]

    @property
    def turn_failure(self) -> str | None:
        for event in self.events:
            if event.get("type") == "turn.failed":
                error = event.get("error")
                return str(error.get("message")) if isinstance(error, dict) else str(error)
        return None

    @property
    def usage(self) -> dict[str, Any] | None:
        for event in reversed(self.events):
            if event.get("type") == "turn.completed" and isinstance(event.get("usage"), dict):
                return dict(event["usage"])
        return None

    def explain(self) -> str:
        """A summary for assertion messages."""
        lines = [
            f"codex exit={self.exit_code} timed_out={self.timed_out} in {self.duration:.1f}s",
            "argv: " + " ".join(self.argv),
            "events:",
            *(f"  {json.dumps(e, ensure_ascii=False)[:400]}" for e in self.events),
            "stderr (tail):",
            *(f"  {line}" for line in self.stderr.splitlines()[-25:]),
        ]
        return "\n".join(lines)


def _parse_events(stdout: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


# --------------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------------


class CodexCLI:
    """A Codex home + workspace pair; each :meth:`run` is one ``codex exec`` (one turn)."""

    def __init__(
        self,
        home: Path,
        workdir: Path,
        config: CodexConfig,
        *,
        binary: Path | None = None,
        rust_log: str | None = None,
    ) -> None:
        self.home = home
        self.workdir = workdir
        self.config = config
        self.binary = binary if binary is not None else find_codex()
        #: e.g. "codex_core=info,codex_api=debug": Codex's tracing logs go to stderr.
        self.rust_log = rust_log
        self.home.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.json"

    def write_config(self) -> None:
        """(Re)write config.toml and the catalog from ``self.config``; call after changing ``config``."""
        model = self.config.catalog_model()
        if model is not None:
            self.catalog_path.write_text(json.dumps({"models": [model.to_json()]}, indent=2), encoding="utf-8")
        self.config_path.write_text(
            render_config(self.config, self.catalog_path if model is not None else None), encoding="utf-8"
        )

    def argv(
        self,
        prompt: str,
        *,
        images: Sequence[Path] = (),
        resume: str | None = None,
        extra_args: Sequence[str] = (),
        resume_args: Sequence[str] = (),
    ) -> list[str]:
        """The command line. ``resume``: a thread id, or "--last"; ``resume_args`` follow it (``-m model``
        switches the model of the resumed session). The prompt goes after ``--`` because ``-i`` takes
        several values and would swallow it."""
        argv = [
            str(self.binary),
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "--color",
            "never",
            "--json",
            "-C",
            str(self.workdir),
            "-o",
            str(self._last_message_path),
        ]
        for feature in self.config.disabled_features:
            argv += ["--disable", feature]
        attach = [arg for image in images for arg in ("-i", str(image))]
        argv += list(extra_args)
        if resume is not None:
            # `exec -i IMG resume` would read "resume" as a second image: images go to the subcommand.
            argv += ["resume", resume, *resume_args]
        argv += [*attach, "--", prompt]
        return argv

    @property
    def _last_message_path(self) -> Path:
        return self.home / "last_message.txt"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}
        env["CODEX_HOME"] = str(self.home)
        env[self.config.env_key] = self.config.api_key
        env.setdefault("TERM", "dumb")
        env["NO_COLOR"] = "1"
        if self.rust_log:
            env["RUST_LOG"] = self.rust_log
        env.update(extra or {})
        return env

    def _prepare(self) -> None:
        self._last_message_path.unlink(missing_ok=True)

    def _result(
        self, argv: list[str], code: int, out: bytes, err: bytes, started: float, timed_out: bool
    ) -> CodexResult:
        stdout = out.decode("utf-8", "replace")
        last = self._last_message_path
        return CodexResult(
            argv=argv,
            exit_code=code,
            stdout=stdout,
            stderr=err.decode("utf-8", "replace"),
            events=_parse_events(stdout),
            duration=time.monotonic() - started,
            timed_out=timed_out,
            last_message=last.read_text(encoding="utf-8") if last.exists() else None,
        )

    def run(
        self,
        prompt: str,
        *,
        images: Sequence[Path] = (),
        resume: str | None = None,
        timeout: float = 120.0,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        resume_args: Sequence[str] = (),
    ) -> CodexResult:
        """Run one turn and wait (blocking). The server Codex talks to must not need this thread."""
        argv = self.argv(prompt, images=images, resume=resume, extra_args=extra_args, resume_args=resume_args)
        self._prepare()
        started = time.monotonic()
        with subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(env),
            cwd=self.workdir,
            start_new_session=True,  # its own process group: a timeout kills Codex and its shells
        ) as process:
            try:
                out, err = process.communicate(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                out, err = process.communicate()
                timed_out = True
        return self._result(argv, process.returncode, out, err, started, timed_out)

    async def run_async(
        self,
        prompt: str,
        *,
        images: Sequence[Path] = (),
        resume: str | None = None,
        timeout: float = 120.0,  # noqa: ASYNC109 - on timeout the whole process group must be killed
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> CodexResult:
        """Run one turn without blocking the event loop (for a gateway served in this loop)."""
        argv = self.argv(prompt, images=images, resume=resume, extra_args=extra_args)
        self._prepare()
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(env),
            cwd=self.workdir,
            start_new_session=True,
        )
        # communicate() runs as its own task so a timeout keeps the output read so far.
        output = asyncio.ensure_future(process.communicate())
        try:
            done, _ = await asyncio.wait({output}, timeout=timeout)
        except BaseException:
            _kill_group(process.pid)
            await asyncio.shield(output)
            raise
        timed_out = not done
        if timed_out:
            _kill_group(process.pid)
        out, err = await output
        code = process.returncode if process.returncode is not None else -1
        return self._result(argv, code, out, err, started, timed_out)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
