"""vision/cache.py: the LRU in memory and the bounded cache on disk."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from mimo2codex.vision.cache import VisionCache

READER = "mimo/mimo-v2.5"


def test_memory_is_a_bounded_lru() -> None:
    cache = VisionCache(None, capacity=2)
    cache.remember(("a", READER), "A")
    cache.remember(("b", READER), "B")
    assert cache.recall(("a", READER)) == "A"  # a is now the most recent
    cache.remember(("c", READER), "C")
    assert cache.recall(("b", READER)) is None
    assert cache.recall(("a", READER)) == "A"
    assert cache.recall(("a", "other/reader")) is None  # another reader's words are another entry


def test_disk_survives_a_new_cache_and_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "vision-cache"

    async def scenario() -> str | None:
        await VisionCache(directory).put(("a" * 64, READER), "TEXT:\nhello")
        return await VisionCache(directory).get(("a" * 64, READER))

    assert asyncio.run(scenario()) == "TEXT:\nhello"
    assert directory.stat().st_mode & 0o777 == 0o700
    assert [p.name.split(".")[0] for p in directory.iterdir()] == ["a" * 64]


def test_disk_is_pruned_to_its_bound_oldest_first(tmp_path: Path) -> None:
    directory = tmp_path / "vision-cache"
    cache = VisionCache(directory, disk_capacity=3)

    async def fill() -> None:
        for n in range(5):
            await cache.put((str(n) * 64, READER), f"text {n}")
            path = cache._path((str(n) * 64, READER))
            os.utime(path, (1_000_000 + n, 1_000_000 + n))

    asyncio.run(fill())
    cache._writes = 32  # the next write prunes
    asyncio.run(cache.put(("f" * 64, READER), "newest"))
    names = sorted(p.name[:1] for p in directory.iterdir())
    assert len(names) == 3
    assert "0" not in names
    assert "1" not in names
    assert "f" in names


def test_an_unwritable_disk_costs_only_the_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = VisionCache(blocker / "vision-cache")
    asyncio.run(cache.put(("a" * 64, READER), "kept in memory"))
    assert cache.recall(("a" * 64, READER)) == "kept in memory"
    assert asyncio.run(VisionCache(blocker / "vision-cache").get(("a" * 64, READER))) is None
