"""Heap trimming: hand freed memory back to the OS in a gateway that runs all day.

Each Codex request allocates ~40 KB buffers (the request body, its translation). glibc's malloc
keeps freed chunks below the top of the heap for reuse, so under hundreds of concurrent streams RSS
climbs to the high-water mark and stays there, although the memory in use is flat (measured with
``bench/soak.py``: heap 17 -> 65 MB, mostly free). A periodic ``malloc_trim(0)`` returns those
pages; it costs a few milliseconds every interval, nothing per request. Where there is no glibc
(macOS, musl) the trimmer is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
from collections.abc import AsyncIterator, Callable

log = logging.getLogger("mimo2codex")

#: seconds between trims
TRIM_INTERVAL = 10.0


def find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None when the C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


async def trim_periodically(trim: Callable[[int], int], interval: float = TRIM_INTERVAL) -> None:
    """Run ``trim(0)`` every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        trim(0)


@contextlib.asynccontextmanager
async def heap_trimmer(interval: float = TRIM_INTERVAL) -> AsyncIterator[None]:
    """Lifespan-scoped: trims while the app runs, stops with it."""
    trim = find_malloc_trim()
    if trim is None:
        yield
        return
    task = asyncio.create_task(trim_periodically(trim, interval), name="mimo2codex-heap-trim")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
