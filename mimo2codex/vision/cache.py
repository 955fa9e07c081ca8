"""What vision models said about images, by the image's sha256: in memory, and on disk.

Codex sends the whole history on every request, so a screenshot pasted once comes back on every
later turn of the session. Reading it once and answering later turns from the cache keeps those turns
as fast as text-only ones, and gives the text-only model the very same block every time (its prompt
cache keeps hitting). The disk half survives restarts; it is small text files, pruned to a bound.

>>> cache = VisionCache(None, capacity=2)
>>> cache.remember(("ab12", "mimo/mimo-v2.5"), "TEXT ...")
>>> cache.recall(("ab12", "mimo/mimo-v2.5"))
'TEXT ...'
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import OrderedDict
from pathlib import Path

#: (image sha256, reader spec "provider/model")
CacheKey = tuple[str, str]


class VisionCache:
    """A bounded LRU in memory, backed by ``directory`` (None: memory only)."""

    def __init__(self, directory: Path | None, *, capacity: int = 512, disk_capacity: int = 2000) -> None:
        self.directory = directory
        self.capacity = capacity
        self.disk_capacity = disk_capacity
        self._memory: OrderedDict[CacheKey, str] = OrderedDict()
        self._writes = 0

    def recall(self, key: CacheKey) -> str | None:
        """The remembered text, from memory only (no I/O)."""
        text = self._memory.get(key)
        if text is not None:
            self._memory.move_to_end(key)
        return text

    def remember(self, key: CacheKey, text: str) -> None:
        self._memory[key] = text
        self._memory.move_to_end(key)
        while len(self._memory) > self.capacity:
            self._memory.popitem(last=False)

    async def get(self, key: CacheKey) -> str | None:
        text = self.recall(key)
        if text is None and self.directory is not None:
            text = await asyncio.to_thread(self._read, self._path(key))
            if text is not None:
                self.remember(key, text)
        return text

    async def put(self, key: CacheKey, text: str) -> None:
        self.remember(key, text)
        if self.directory is None:
            return
        self._writes += 1
        prune = self._writes % 32 == 1  # listing the directory on every write would be wasted work
        with contextlib.suppress(OSError):  # a full or read-only disk costs the cache, never the request
            await asyncio.to_thread(self._write, self._path(key), text, prune)

    def _path(self, key: CacheKey) -> Path:
        assert self.directory is not None
        sha256, reader = key
        reader_tag = hashlib.sha256(reader.encode("utf-8")).hexdigest()[:10]
        return self.directory / f"{sha256}.{reader_tag}.txt"

    @staticmethod
    def _read(path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def _write(self, path: Path, text: str, prune: bool) -> None:
        # Screenshots show private things: the cache is the user's alone.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)  # atomic: two workers may write the same entry
        if prune:
            self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        entries = []
        for entry in os.scandir(directory):
            if entry.name.endswith(".txt"):
                try:
                    entries.append((entry.stat().st_mtime, entry.path))
                except OSError:
                    continue
        entries.sort()
        for _, stale in entries[: max(0, len(entries) - self.disk_capacity)]:
            try:
                os.unlink(stale)
            except OSError:
                continue
