"""Atomic file replacement: a reader sees the old file or the new one, never half of either.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "x.json"
>>> _ = write_atomic(target, b"{}\\n")
>>> target.read_bytes()
b'{}\\n'

Used for every file mimo2codex writes that someone else reads: Codex's config.toml and auth.json,
the model catalog, providers.json. The data is fsynced before the rename and the directory after
it, so a crash or power loss leaves the old file or the whole new one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> Path:
    """Replace ``path`` with ``data``. ``mode``: permissions of the new file (default: keep the old
    file's, else the umask's); auth files pass 0o600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None and path.exists():
        mode = path.stat().st_mode & 0o777
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    # The rename lives in the directory entry: without this a crash can forget it (POSIX only).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
