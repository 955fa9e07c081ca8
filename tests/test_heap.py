"""The heap trimmer runs while the app runs, and never when there is nothing to call."""

from __future__ import annotations

import asyncio

from mimo2codex.heap import find_malloc_trim, heap_trimmer, trim_periodically


def test_trims_on_its_interval_until_cancelled() -> None:
    calls: list[int] = []

    def trim(pad: int) -> int:
        calls.append(pad)
        return 1

    async def go() -> None:
        task = asyncio.create_task(trim_periodically(trim, interval=0.01))
        await asyncio.sleep(0.055)
        task.cancel()

    asyncio.run(go())
    assert 3 <= len(calls) <= 6
    assert set(calls) == {0}


def test_glibc_trim_is_callable_here() -> None:
    trim = find_malloc_trim()
    assert trim is not None  # the gateway's machines run glibc
    assert trim(0) in (0, 1)


def test_lifespan_context_starts_and_stops_cleanly() -> None:
    async def go() -> int:
        async with heap_trimmer(interval=0.01):
            await asyncio.sleep(0.03)
        return len([t for t in asyncio.all_tasks() if t.get_name() == "mimo2codex-heap-trim"])

    assert asyncio.run(go()) == 0
