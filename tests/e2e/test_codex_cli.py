"""Acceptance 3: the real Codex CLI 0.169.0 through a live mimo2codex to a strict fake vendor.

Each test runs ``codex exec`` (fresh ``CODEX_HOME`` and workspace under ``tmp_path``) against the
gateway served on a loopback port, in front of a :class:`StrictUpstream` that answers any request a real
vendor would refuse with that vendor's 400/404 (CONTRACT Part B). Each asserts what Codex printed
(its ``--json`` events and final message), what reached disk, how many requests the vendor saw, and
that the vendor saw no violation.

The Codex binary is required: ``scripts/test`` installs it into ``.cache/codex``; without it these
tests fail with the install command rather than skip.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.providers.base import ModelInfo, Provider
from mimo2codex.secret import Secret
from mimo2codex.settings import Settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.codex_cli import CatalogModel, CodexCLI, CodexConfig, CodexResult
from tests.fakes.strict_upstream import Reply, Script, StrictUpstream, ToolCall, VendorRules
from tests.live import LiveGateway, upstream_settings

pytestmark = [pytest.mark.codex, pytest.mark.live]

#: Per Codex run; a healthy run takes about a second.
RUN_TIMEOUT = 30.0


@dataclass
class Session:
    """One gateway + vendor + Codex home/workspace."""

    upstream: StrictUpstream
    gateway: LiveGateway
    codex: CodexCLI

    @property
    def work(self) -> Path:
        return self.codex.workdir

    def run(self, prompt: str, **options: Any) -> CodexResult:
        return self.codex.run(prompt, timeout=RUN_TIMEOUT, **options)

    def tool_messages(self, request: int) -> list[dict[str, Any]]:
        return [m for m in self.upstream.bodies[request]["messages"] if m["role"] == "tool"]


Open = Callable[..., Session]


@pytest.fixture
def open_session(tmp_path: Path, codex_bin: Path, start_upstream: StartUpstream, start_gateway: StartGateway) -> Open:
    def open_(
        script: Script,
        *,
        rules: VendorRules | None = None,
        model: str = "fake-model",
        settings: Callable[[StrictUpstream], Settings] | None = None,
        **config: Any,
    ) -> Session:
        upstream = start_upstream(script, rules=rules)
        gateway = start_gateway(settings(upstream) if settings else upstream_settings(upstream, model=model))
        codex = CodexCLI(
            tmp_path / "home",
            tmp_path / "work",
            CodexConfig(base_url=gateway.url, model=model, **config),
            binary=codex_bin,
        )
        return Session(upstream, gateway, codex)

    return open_


def assert_clean(session: Session, result: CodexResult, *, requests: int) -> None:
    """Codex succeeded, the vendor accepted every request, and saw exactly ``requests`` of them."""
    assert result.ok, result.explain()
    assert session.upstream.violations == []
    assert len(session.upstream.chat_requests) == requests, result.explain()
    assert session.upstream.chat_requests[-1].outcome == "completed"


# (a) ---------------------------------------------------------------------------------------------


def test_plain_answer(open_session: Open) -> None:
    session = open_session([Reply.text("Hello from the strict vendor: 你好, ünïcödé ✓")])

    result = session.run("say hello")

    assert_clean(session, result, requests=1)
    assert result.agent_messages == ["Hello from the strict vendor: 你好, ünïcödé ✓"]
    assert result.last_message == "Hello from the strict vendor: 你好, ünïcödé ✓"
    assert result.turn_failure is None
    assert result.errors == []
    assert result.usage is not None
    assert result.usage["output_tokens"] > 0
    body = session.upstream.bodies[0]
    assert body["stream"] is True
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": "say hello"}
    names = {t["function"]["name"] for t in body["tools"]}
    assert {"exec_command", "write_stdin", "apply_patch"} <= names


# (b) ---------------------------------------------------------------------------------------------


def test_exec_command_creates_a_file_then_answers(open_session: Open) -> None:
    session = open_session(
        [
            Reply.tools(ToolCall("exec_command", {"cmd": "printf 'made by codex\\n' > created.txt && echo wrote it"})),
            Reply.text("I created created.txt."),
        ]
    )

    result = session.run("create created.txt")

    assert_clean(session, result, requests=2)
    assert (session.work / "created.txt").read_text() == "made by codex\n"
    (command,) = result.commands
    assert "created.txt" in command["command"]
    assert command["exit_code"] == 0
    assert command["aggregated_output"].strip() == "wrote it"
    assert result.final_message == "I created created.txt."
    # The tool result went back to the vendor as a string answering the call it made.
    (tool,) = session.tool_messages(1)
    assert tool["tool_call_id"] == "call_0_0"
    assert "Process exited with code 0" in tool["content"]
    assert "wrote it" in tool["content"]
    call = session.upstream.bodies[1]["messages"][-2]
    assert call["role"] == "assistant"
    assert call["tool_calls"][0]["function"]["name"] == "exec_command"


# (c) ---------------------------------------------------------------------------------------------

PATCH = """*** Begin Patch
*** Add File: notes/hello.txt
+Hello, "patched" world \\o/
+second line: 世界
*** Update File: existing.txt
@@
 keep this line
-old line
+new line
*** End Patch
"""


def test_apply_patch_as_a_freeform_tool(open_session: Open) -> None:
    session = open_session(
        [Reply.tools(ToolCall("apply_patch", {"input": PATCH}), chunk_chars=7), Reply.text("Patched both files.")],
        catalog=CatalogModel(slug="fake-model", apply_patch=True),
    )
    (session.work / "existing.txt").write_text("keep this line\nold line\n")

    result = session.run("patch the files")

    assert_clean(session, result, requests=2)
    assert (session.work / "notes" / "hello.txt").read_text() == 'Hello, "patched" world \\o/\nsecond line: 世界\n'
    assert (session.work / "existing.txt").read_text() == "keep this line\nnew line\n"
    (change,) = result.file_changes
    assert {(c["path"].rsplit("/", 2)[-1], c["kind"]) for c in change["changes"]} == {
        ("hello.txt", "add"),
        ("existing.txt", "update"),
    }
    assert result.final_message == "Patched both files."
    # Codex sent apply_patch as a custom (freeform) tool; the vendor saw a function with one string.
    (lowered,) = [t for t in session.upstream.bodies[0]["tools"] if t["function"]["name"] == "apply_patch"]
    assert lowered["function"]["parameters"]["required"] == ["input"]
    (tool,) = session.tool_messages(1)
    assert "Success" in tool["content"], tool
    assert "aborted" not in tool["content"]


# (d) ---------------------------------------------------------------------------------------------

THINKING_MODEL = "deepseek-v4-pro"


def test_thinking_model_replays_reasoning_over_many_tool_turns(open_session: Open) -> None:
    """DeepSeek V4 thinking mode: every earlier tool-call turn must come back with its reasoning_content
    (else 400), and one turn's text, reasoning and calls must stay one assistant message."""
    turns = 6
    script: list[Reply] = [
        Reply.tools(
            ToolCall("exec_command", {"cmd": f"echo step{n} >> log.txt"}),
            reasoning=f"Thinking about step {n}: append it to the log.",
            content="Working on it." if n == 2 else None,
        )
        for n in range(turns - 1)
    ]
    # One turn with two calls at once.
    script.append(
        Reply.tools(
            ToolCall("exec_command", {"cmd": "echo parallel-a > a.txt"}),
            ToolCall("exec_command", {"cmd": "echo parallel-b > b.txt"}),
            reasoning="Two independent files: write both at once.",
        )
    )
    script.append(Reply.text("All steps logged.", reasoning="Everything is done; report back."))
    session = open_session(
        script,
        rules=VendorRules.deepseek_v4(models=(THINKING_MODEL,)),
        model=THINKING_MODEL,
        catalog=CatalogModel(slug=THINKING_MODEL, reasoning_levels=("low", "high"), default_reasoning_level="high"),
    )

    result = session.run("log the steps")

    assert_clean(session, result, requests=turns + 1)
    assert (session.work / "log.txt").read_text() == "".join(f"step{n}\n" for n in range(turns - 1))
    assert (session.work / "a.txt").read_text() == "parallel-a\n"
    assert (session.work / "b.txt").read_text() == "parallel-b\n"
    assert len(result.commands) == turns + 1
    assert all(c["exit_code"] == 0 for c in result.commands)
    assert result.final_message == "All steps logged."
    assert "Thinking about step 0: append it to the log." in result.reasoning
    # The last request replays every earlier turn with its own reasoning, verbatim (no placeholder).
    last = session.upstream.bodies[-1]["messages"]
    assistants = [m for m in last if m["role"] == "assistant"]
    assert [m["reasoning_content"] for m in assistants] == [
        *(f"Thinking about step {n}: append it to the log." for n in range(turns - 1)),
        "Two independent files: write both at once.",
    ]
    assert assistants[2]["content"] == "Working on it."
    assert [len(m["tool_calls"]) for m in assistants] == [1] * (turns - 1) + [2]
    assert sum(m["role"] == "tool" for m in last) == turns + 1


# (e) ---------------------------------------------------------------------------------------------


def _png(path: Path, width: int = 4, height: int = 4) -> Path:
    """A real (tiny, red) PNG: Codex decodes attached images before sending them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def test_image_to_a_text_only_model_is_replaced_by_a_placeholder(open_session: Open, tmp_path: Path) -> None:
    """Codex thinks the model sees images (catalog: text + image) and sends the picture; the gateway's
    catalog knows the upstream model is text-only, so the vendor (which 404s on images) never gets it."""
    model = "text-only-model"

    def settings(upstream: StrictUpstream) -> Settings:
        provider = Provider(
            id="generic",
            display_name="strict vendor",
            base_url=upstream.url,
            api_key=Secret(upstream.api_key),
            default_model=model,
            models=(ModelInfo(id=model, supports_images=False),),
        )
        return Settings(providers=(provider,), default_provider="generic", max_retries=0)

    session = open_session(
        [Reply.text("I cannot see images, but I got your message.")],
        rules=VendorRules(vision=False, models=(model,)),
        model=model,
        settings=settings,
        catalog=CatalogModel(slug=model, input_modalities=("text", "image")),
    )
    image = _png(tmp_path / "red.png")

    result = session.run("what is in this picture?", images=[image])

    assert_clean(session, result, requests=1)
    assert result.final_message == "I cannot see images, but I got your message."
    user_text = [m["content"] for m in session.upstream.bodies[0]["messages"] if m["role"] == "user"]
    assert all(isinstance(content, str) for content in user_text), "an image part reached a text-only vendor"
    joined = "\n".join(user_text)
    assert "what is in this picture?" in joined
    # No vision model can read it (the vendor has none, none is configured): the vision bridge saved it
    # and says where, and which command reads it (tests/e2e/test_codex_vision.py: with one).
    assert "— not shown: strict vendor has no vision model" in joined
    assert "To read it, run: mimo2codex ocr " in joined
    assert "data:image" not in session.upstream.chat_requests[0].raw.decode()


# (f) ---------------------------------------------------------------------------------------------

RATE_LIMITED = Reply.http_error(
    429, "Rate limit reached for requests. Please retry later.", type="rate_limit_error", headers={"Retry-After": "1"}
)


def test_rate_limit_is_waited_out_by_the_gateway(open_session: Open) -> None:
    """Default settings: the gateway honours Retry-After itself; Codex never sees the 429."""
    session = open_session(
        [RATE_LIMITED, Reply.text("Answered after the wait.")],
        settings=lambda up: upstream_settings(up, MIMO2CODEX_MAX_RETRIES="2"),
    )

    result = session.run("hello")

    assert_clean(session, result, requests=2)
    assert result.final_message == "Answered after the wait."
    assert result.errors == [], "the retry should be invisible to the user"
    first, second = session.upstream.chat_requests
    assert first.status == 429
    assert second.received_at - first.received_at >= 0.95, "Retry-After was not honoured"
    assert session.gateway.wait_for_records(1)[-1].upstream_attempts == 2


def test_rate_limit_reaches_codex_with_retry_after_and_codex_retries(open_session: Open) -> None:
    """Gateway retries off: the 429 goes to Codex as HTTP 429 + Retry-After, which Codex waits out."""
    session = open_session([RATE_LIMITED, Reply.text("Answered on Codex's retry.")], stream_max_retries=1)

    result = session.run("hello")

    assert_clean(session, result, requests=2)
    assert result.final_message == "Answered on Codex's retry."
    (reconnect,) = result.reconnects
    assert "1/1" in reconnect, reconnect
    assert "429" in reconnect, reconnect
    first, second = session.upstream.chat_requests
    assert first.status == 429
    assert second.received_at - first.received_at >= 0.95, "Codex retried before the Retry-After delay"


# (g) ---------------------------------------------------------------------------------------------

HALF = "This answer is cut off mid-sentence by the vendor"


def test_upstream_drop_mid_stream_fails_the_response_and_codex_retries(open_session: Open) -> None:
    """The vendor's connection dies after a few chunks: the gateway ends the stream with response.failed
    (never a silent cut), Codex retries the turn, and the second attempt's answer is the only one shown."""
    session = open_session(
        [Reply.text(HALF * 4, reasoning="Start answering.", drop_after=6), Reply.text("The complete answer.")],
        stream_max_retries=1,
    )

    result = session.run("answer me")

    assert_clean(session, result, requests=2)
    dropped = session.upstream.chat_requests[0]
    assert dropped.outcome == "dropped"
    assert dropped.chunks_sent == 6
    (reconnect,) = result.reconnects
    assert "1/1" in reconnect, reconnect
    assert result.agent_messages == ["The complete answer."], "the cut-off text must not reach the transcript"
    failed, completed = session.gateway.wait_for_records(2)
    assert failed.outcome == "failed"
    assert failed.error_code == "upstream_unavailable"
    assert completed.outcome == "completed"


def test_upstream_drop_without_codex_retries_is_reported_not_hung(open_session: Open) -> None:
    """With no retry left, Codex must fail the turn promptly with the gateway's message, not wait."""
    session = open_session([Reply.text(HALF * 4, drop_after=3)])

    started = time.monotonic()
    result = session.run("answer me")

    assert not result.ok
    assert not result.timed_out
    assert time.monotonic() - started < 10
    assert result.turn_failure is not None
    assert "broke mid-stream" in result.turn_failure, result.explain()
    assert result.agent_messages == []
    assert session.upstream.violations == []
    assert len(session.upstream.chat_requests) == 1
