"""A throw-away PostgreSQL cluster for the tests and the benchmarks: ``initdb`` + ``pg_ctl`` in a temp dir.

    with PostgresServer.started() as server:
        url = server.create_database("t1")  # postgresql://postgres@127.0.0.1:PORT/t1

The cluster listens on a free loopback port (trust authentication, loopback only) and keeps its unix
socket in its own temp dir, so it never meets a system cluster. As root, the server binaries run as the
``postgres`` system user (``initdb`` refuses root), in a temp dir owned by that user.

A missing server is a FAILURE, never a skip: ``scripts/test`` installs Debian's ``postgresql`` package
when ``initdb`` is missing, and CI must test the PostgreSQL backend. ``MIMO2CODEX_PG_BINDIR`` points at
another server's binaries.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_MISSING = (
    "PostgreSQL server binaries not found (looked for initdb in $MIMO2CODEX_PG_BINDIR, /usr/lib/postgresql/*/bin "
    "and $PATH). The PostgreSQL store tests need a real server: install Debian's package with "
    "`apt-get update && apt-get install -y postgresql` (scripts/test does this when initdb is missing)."
)


class PostgresMissing(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory of ``initdb``/``pg_ctl``/``postgres``: the env override, Debian's layout, then PATH."""
    candidates: list[str] = []
    if override := os.environ.get("MIMO2CODEX_PG_BINDIR"):
        candidates.append(override)
    # Debian installs the server outside PATH; the newest major version wins.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    if found := shutil.which("initdb"):
        candidates.append(str(Path(found).resolve().parent))
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise PostgresMissing(_MISSING)


def _major(bindir: str) -> int:
    version = Path(bindir).parent.name
    return int(version) if version.isdigit() else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One cluster; ``start()`` / ``stop()``, or the ``started()`` context manager."""

    def __init__(self, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        #: durable=False turns fsync off: tests need speed, not crash safety of a throw-away cluster.
        #: The benchmarks run with durable=True, as a real server would.
        self.durable = durable
        self.settings = dict(settings or {})
        self.bindir = find_bindir()
        self.port = 0
        self.root: Path | None = None
        self._user = _server_user()

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    @contextlib.contextmanager
    def started(cls, **options: object) -> Iterator[PostgresServer]:
        server = cls(**options)  # type: ignore[arg-type]
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def start(self) -> None:
        # Not under pytest's tmp dir: its parents are 0700 root, and the server runs as ``postgres``.
        self.root = Path(tempfile.mkdtemp(prefix="mimo2codex-pg-"))
        self.socket_dir.mkdir()
        if self._user:
            shutil.chown(self.root, self._user, self._user)
            shutil.chown(self.socket_dir, self._user, self._user)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "200",
            "shared_buffers": "128MB",
            **({} if self.durable else {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}),
            **self.settings,
        }
        # Several tests may start clusters at once (pytest -n, a bench beside a test run): a taken
        # port fails pg_ctl's start, so try a few.
        last_error = ""
        for _attempt in range(5):
            self.port = free_port()
            flags = " ".join(f"-c {key}={value}" for key, value in {**options, "port": str(self.port)}.items())
            result = self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.root / "server.log"),
                "-o",
                flags,
                check=False,
            )
            if result.returncode == 0:
                return
            last_error = result.stdout + result.stderr + self.log_tail()
        self.stop()
        raise RuntimeError(f"pg_ctl start failed:\n{last_error}")

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            # immediate: a throw-away cluster needs no checkpoint on the way out.
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def log_tail(self, lines: int = 30) -> str:
        assert self.root is not None
        path = self.root / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database), "-c", sql)
        return result.stdout

    def dump(self, database: str) -> str:
        """``pg_dump`` of a database, as text (what a backup of it would hold)."""
        return self._run("pg_dump", "-d", self.url(database)).stdout

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        # The server must not inherit a caller's PG* variables (a PGDATABASE of a developer's own server).
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=self.root, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result


def _server_user() -> str | None:
    """As root, the ``postgres`` system user (the server refuses root); otherwise the current user."""
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresMissing(
            "running as root and there is no `postgres` system user to run the server as: " + _MISSING
        ) from exc
    return "postgres"


# -- pytest fixtures (tests/conftest.py imports them) ---------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's throw-away cluster. A missing server fails the test with the install command."""
    try:
        server = PostgresServer()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's cluster for one test; dropped afterwards."""
    name = f"t{os.getpid()}_{next(_counter)}_{int(time.time() * 1000) % 100000}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)
