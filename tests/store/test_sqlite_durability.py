"""Acceptance 2 and 4 on SQLite: ``kill -9`` under load loses no finished request, and no key is ever
written to the database file, whatever the capture mode."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_KEY = "sk-upstream-key-for-the-log-test-0123456789"
TOKEN = "inbound-token-for-the-log-test-9876543210"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def gateway_process(upstream: StrictUpstream, data_dir: Path, log: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir.parent),
        "MIMO2CODEX_DATA_DIR": str(data_dir),
        "MIMO2CODEX_DEFAULT_PROVIDER": "generic",
        "MIMO2CODEX_MAX_RETRIES": "0",
        "MIMO2CODEX_LOG_BODIES": "full",
        "GENERIC_BASE_URL": upstream.url,
        "GENERIC_API_KEY": upstream.api_key,
        "GENERIC_DEFAULT_MODEL": "fake-model",
    }
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mimo2codex", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "Application startup complete." not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
        proc.send_signal(signal.SIGKILL)  # no shutdown, no flush: what is in the file is all there is
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_9_under_load_loses_no_finished_request(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    finished: list[tuple[str, float]] = []
    lock = threading.Lock()
    stop = threading.Event()
    with StrictUpstream(lambda body, n: Reply.text(f"answer {n}", chunk_chars=16)).running() as upstream:
        with gateway_process(upstream, data_dir, tmp_path / "gateway.log") as url:

            def client(worker: int) -> None:
                with httpx.Client(timeout=10) as http:
                    n = 0
                    while not stop.is_set():
                        agent = f"load-{worker}-{n}"
                        n += 1
                        body = {"model": "fake-model", "input": f"q {agent}", "stream": n % 2 == 0}
                        with contextlib.suppress(httpx.HTTPError):
                            response = http.post(f"{url}/responses", json=body, headers={"user-agent": agent})
                            if response.status_code == 200 and "failed" not in response.text[-300:]:
                                with lock:
                                    finished.append((agent, time.monotonic()))

            threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(2.5)
            killed_at = time.monotonic()
        stop.set()
        for thread in threads:
            thread.join(15)

    with sqlite3.connect(data_dir / "data.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {agent for (agent,) in conn.execute("SELECT user_agent FROM chat_logs")}
        rollup_requests = conn.execute("SELECT sum(requests) FROM log_rollups_hourly").fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM chat_logs").fetchone()[0]
    early = {agent for agent, at in finished if at < killed_at - 1.0}
    assert len(early) > 20, "the load was too light to mean anything"
    assert early - stored == set()
    assert rollup_requests == rows  # rows and rollups went in the same transactions


@pytest.mark.parametrize("mode", ["off", "errors-only", "full"])
def test_keys_never_reach_the_database_file(
    mode: str, tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    leak = f"my key is {UPSTREAM_KEY} and my token {TOKEN}"

    def script(body: dict[str, Any], number: int) -> Reply:
        if number % 3 == 0:  # a vendor echoing the key it was sent
            return Reply.http_error(400, f"Incorrect API key provided: {UPSTREAM_KEY}")
        if number % 3 == 1:  # a model repeating what the user pasted
            return Reply.text(leak)
        return Reply.text(leak, drop_after=1)

    upstream = start_upstream(script, api_key=UPSTREAM_KEY)
    env = {
        "GENERIC_BASE_URL": upstream.url,
        "GENERIC_API_KEY": UPSTREAM_KEY,
        "GENERIC_DEFAULT_MODEL": "fake-model",
        "MIMO2CODEX_MAX_RETRIES": "0",
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
        "MIMO2CODEX_AUTH_TOKENS": TOKEN,
        "MIMO2CODEX_LOG_BODIES": mode,
    }
    live = start_gateway(load_settings(env))
    headers = {"authorization": f"Bearer {TOKEN}", "x-api-key": TOKEN}
    with httpx.Client(timeout=10, headers=headers) as http:
        for n in range(6):
            body = {"model": "fake-model", "input": leak, "stream": n % 2 == 0, "store": True}
            http.post(f"{live.url}/responses", json=body)
            chat = {"model": "fake-model", "messages": [{"role": "user", "content": leak}], "stream": n % 2 == 1}
            http.post(f"{live.url}/chat/completions", json=chat)
    live.wait_for_records(12)
    live.stop()  # the lifespan flushes and closes the store

    files = [p for p in tmp_path.iterdir() if p.name.startswith("data.db")]
    content = b"".join(p.read_bytes() for p in files)
    assert b"chat_logs" in content  # the file is the database, and rows were written
    with sqlite3.connect(tmp_path / "data.db") as conn:
        assert conn.execute("SELECT count(*) FROM chat_logs").fetchone()[0] == 12
    for secret in (UPSTREAM_KEY, TOKEN):
        assert secret.encode() not in content
        assert secret.encode("utf-16-le") not in content
