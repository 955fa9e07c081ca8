"""``--workers N``: a real ``python -m mimo2codex --workers 2`` process, requests, SIGTERM, a clean exit.

The workers are spawned interpreters: everything :func:`mimo2codex.cli.main` parsed (here ``--api-key``,
``--auth-token``, ``--shutdown-grace``) must reach them through the environment, and each must log
its requests and shut down gracefully when the parent is told to stop.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mimo2codex import cli
from mimo2codex.responses_api import SHUTDOWN_CODE
from mimo2codex.server import production_app
from mimo2codex.settings import load_settings
from tests.fakes.strict_upstream import Reply, StrictUpstream

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "inbound-token-for-the-workers-test"
STARTUP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WorkersGateway:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


@contextlib.contextmanager
def workers_gateway(upstream: StrictUpstream, tmp_path: Path, workers: int = 2) -> Iterator[WorkersGateway]:
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "MIMO2CODEX_DATA_DIR": str(tmp_path / "data"),
        "MIMO2CODEX_DEFAULT_PROVIDER": "generic",
        "MIMO2CODEX_MAX_RETRIES": "0",
        "GENERIC_BASE_URL": upstream.url,
        # the real key only comes with --api-key: a worker that missed the flag would be refused upstream
        "GENERIC_API_KEY": "sk-not-the-upstream-key",
        "GENERIC_DEFAULT_MODEL": "fake-model",
    }
    command = [sys.executable, "-m", "mimo2codex", "--workers", str(workers), "--port", str(port)]
    command += ["--api-key", upstream.api_key, "--auth-token", TOKEN, "--shutdown-grace", "1"]
    log = tmp_path / "gateway.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    gateway = WorkersGateway(proc, port, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while gateway.output().count("Application startup complete.") < workers:
            assert proc.poll() is None, f"the gateway exited with {proc.returncode}:\n{gateway.output()}"
            assert time.monotonic() < deadline, f"the workers did not start:\n{gateway.output()}"
            time.sleep(0.05)
        yield gateway
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _post(url: str, body: dict[str, Any], token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/responses", json=body, headers=headers, timeout=20)


def _events(response: httpx.Response) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]


def test_workers_serve_with_the_parents_flags_log_and_exit_cleanly(tmp_path: Path) -> None:
    with (
        StrictUpstream(lambda body, n: Reply.text(f"answer {n}")).running() as upstream,
        workers_gateway(upstream, tmp_path) as gateway,
    ):
        # Enough concurrent connections that both workers take some (the kernel hands them out).
        results: list[httpx.Response] = []

        def ask(index: int) -> None:
            results.append(_post(gateway.url, {"model": "fake-model", "input": f"q{index}", "stream": index % 2 == 0}))

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        assert len(results) == 16
        assert all(r.status_code == 200 for r in results), [r.text[:200] for r in results if r.status_code != 200]
        for response in results:
            if response.headers["content-type"].startswith("text/event-stream"):
                assert _events(response)[-1]["type"] == "response.completed"
            else:
                assert response.json()["status"] == "completed"
        # --auth-token reached the workers: no token, no answer
        assert _post(gateway.url, {"model": "fake-model", "input": "x"}, token=None).status_code == 401

        assert gateway.stop() == 0
        output = gateway.output()

    workers = {line.split("[")[1].split("]")[0] for line in output.splitlines() if "Started server process" in line}
    assert len(workers) == 2, output
    assert output.count("Finished server process") == 2, output
    assert "Stopping parent process" in output
    # every request logged once, by whichever worker served it (16 answered + the 401)
    assert output.count("/v1/responses fake-model -> generic/fake-model 200 completed") == 16, output
    assert "Traceback" not in output
    assert upstream.api_key not in output  # the key came on the command line; it never reaches a log
    assert TOKEN not in output


def test_sigterm_ends_in_flight_streams_with_response_failed_then_exits(tmp_path: Path) -> None:
    slow = Reply.text("word " * 100, chunk_delay=0.1, chunk_chars=5)  # ~10 s: outlives the 1 s grace
    with StrictUpstream(lambda body, n: slow).running() as upstream, workers_gateway(upstream, tmp_path) as gateway:
        events: list[dict[str, Any]] = []
        streaming = threading.Event()

        def stream() -> None:
            body = {"model": "fake-model", "input": "count slowly", "stream": True}
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.stream("POST", f"{gateway.url}/responses", json=body, headers=headers, timeout=30) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.append(orjson.loads(line[6:]))
                        if len(events) >= 4:
                            streaming.set()

        thread = threading.Thread(target=stream, daemon=True)
        thread.start()
        assert streaming.wait(15), "the stream never started"
        began = time.monotonic()
        assert gateway.stop() == 0
        elapsed = time.monotonic() - began
        thread.join(10)
        assert not thread.is_alive()
        output = gateway.output()

    assert events[-1]["type"] == "response.failed", events[-1]
    assert events[-1]["response"]["error"]["code"] == SHUTDOWN_CODE
    assert elapsed < 10, f"shutdown took {elapsed:.1f}s with a 1 s grace"
    assert output.count("Finished server process") == 2, output
    # uvicorn logs the stream its graceful shutdown cancelled (as it does with one worker); nothing else
    cancelled = "CancelledError: Task cancelled, timeout graceful shutdown exceeded"
    assert output.count("Traceback") == output.count(cancelled) <= 1, output


def test_the_served_app_moves_the_startup_heap_out_of_the_collectors_way() -> None:
    """Every worker (and the single process) serves :func:`production_app`: startup objects frozen, and a
    first threshold that lets a request's objects die by reference counting before a collection."""
    env = {"GENERIC_BASE_URL": "http://127.0.0.1:9/v1", "GENERIC_API_KEY": "k", "GENERIC_DEFAULT_MODEL": "m"}
    settings = load_settings(env)
    thresholds = gc.get_threshold()
    try:
        production_app(settings)
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] >= 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_workers_is_a_positive_whole_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--workers", value, "print-config"])
    assert exit_info.value.code == 2
    assert "--workers" in capsys.readouterr().err
