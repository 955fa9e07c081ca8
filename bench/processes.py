"""Processes the benchmarks start and watch: the fake upstream, free ports, logs, memory, threads' CPU."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def set_shape(upstream_port: int, shape: dict[str, Any]) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{upstream_port}/_config", data=orjson.dumps(shape), method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def start_upstream() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_upstream", "--port", "0", "--print-port"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"fake upstream did not print its port (got {line!r})")
    return proc, int(line)


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """utime + stime of each thread of ``pid`` (thread id -> CPU seconds), from /proc/<pid>/task.

    A thread that ends between two readings is missing from the second: its CPU is lost, which is
    why the threads measured should be long-lived ones (an event loop, a writer thread)."""
    found: dict[int, float] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)
    return found


def thread_switches(pid: int) -> dict[int, tuple[int, int]]:
    """Context switches of each thread of ``pid``: (voluntary, involuntary), from /proc/<pid>/task.

    A thread that waits for the GIL (or for work) switches voluntarily; one the kernel preempts
    because the cores are busy, involuntarily."""
    found: dict[int, tuple[int, int]] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            lines = (task / "status").read_text().splitlines()
        except OSError:
            continue
        counts = {k: int(v) for k, _, v in (line.partition(":") for line in lines) if k.endswith("ctxt_switches")}
        found[int(task.name)] = (counts.get("voluntary_ctxt_switches", 0), counts.get("nonvoluntary_ctxt_switches", 0))
    return found


def python_thread_names(pid: int) -> dict[int, str] | None:
    """Thread id -> the Python thread's name (``threading.Thread(name=...)``) of a running interpreter.

    CPython 3.11 does not give its threads OS names (every ``/proc/<pid>/task/*/comm`` reads
    ``python``), so the names come from ``py-spy dump --json`` (its ``os_thread_id`` field): it
    pauses the process for a few milliseconds, once. None when py-spy is missing or cannot attach.
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return None
    try:
        done = subprocess.run([spy, "dump", "--pid", str(pid), "--json"], capture_output=True, text=True, timeout=30)
        threads = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(threads, list):
        return None
    return {
        int(t["os_thread_id"]): str(t.get("thread_name") or "")
        for t in threads
        if isinstance(t, dict) and t.get("os_thread_id")
    }
