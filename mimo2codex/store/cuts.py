"""Where a body is cut into pieces, reusing the cuts of the session's previous request in blocks.

A body is cut just after the comma of ``},{`` (between two items of a JSON array), at the first
such comma at least ``min_piece`` bytes after the previous cut: every cut depends only on the bytes
since the previous one (:mod:`mimo2codex.store.redaction_cache` says why redaction may cut there).

A Codex turn resends the previous request with a few items more, inserted before its tools and
settings. So the new body starts with most of the previous one's pieces and ends with the rest of
them; only the pieces around the new items are cut anew. Both runs are found with a few ``memcmp``
calls (``bytes.startswith`` on a ``memoryview`` of the previous body), not a comparison per piece:

- the head: the longest run of the previous pieces that ``data`` starts with, found by a binary
  search over the previous cuts (each step compares only the bytes not yet known equal). The last
  piece of the run is only the same piece if ``data`` is cut at its end too, i.e. has the ``{`` of
  the next item there; the pieces before it do (their cut is inside the equal bytes).
- the tail: once the bytes left after a cut are exactly the previous body's bytes after one of its
  cuts, the cutting from there is the same, so its pieces are the previous ones.

>>> split(b'{"a":1},{"b":2},{"c":3}', 4, None, [])
(0, [b'{"a":1},', b'{"b":2},', b'{"c":3}'], 0)
>>> old = b'{"a":1},{"b":2},{"c":3}'
>>> split(b'{"a":1},{"b":2},{"n":0},{"c":3}', 4, old, [8, 8, 7])
(2, [b'{"n":0},'], 2)
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate

from mimo2codex.store.unseen import Runs

#: between two items of a JSON array (compact, as Codex and orjson write it)
BOUNDARY = b"},{"


def split(
    data: bytes, min_piece: int, old: bytes | None, old_sizes: list[int], runs: Runs | None = None
) -> tuple[int, list[bytes], int]:
    """``data`` cut into pieces, as ``(head, raws, tail)``: the previous body's first ``head`` pieces,
    then the new ``raws``, then the previous body's pieces from index ``tail`` on (none when
    ``tail == len(old_sizes)``; with no previous body, ``(0, raws, 0)``).

    ``old`` is the previous body of the session and ``old_sizes`` its pieces' sizes in bytes.
    ``runs``: the equal runs ``data`` is known to share with ``old``
    (:func:`~mimo2codex.store.unseen.known_runs`): the head is read off the cuts instead of searched
    for, and a tail is compared only up to where the equal end run begins.
    """
    if old is None or not old_sizes:
        return 0, _cut(data, 0, min_piece), 0
    cuts = list(accumulate(old_sizes, initial=0))  # cuts[i]: where the previous piece i starts
    count = len(old_sizes)
    view = memoryview(old)
    if runs is None:
        head, equal_from = _head(data, view, cuts, count), len(data)
    else:
        head, equal_from = _known_head(data, view, cuts, count, runs[0]), runs[1]
    at = cuts[head]
    shift = len(old) - len(data)  # an offset in data is offset + shift in old, in the tail
    raws: list[bytes] = []
    while True:
        tail = _tail(data, at, view, cuts, count, shift, equal_from)
        if tail:
            return head, raws, tail
        cut = data.find(BOUNDARY, at + min_piece)
        if cut < 0:
            raws.append(data[at:])
            return head, raws, count
        end = cut + 2  # just after the comma
        raws.append(data[at:end])
        at = end


def _head(data: bytes, old: memoryview, cuts: list[int], count: int) -> int:
    """How many of the previous pieces ``data`` starts with (not its last: that one ends its body)."""
    lo, hi = 0, count - 1  # data starts with old[:cuts[lo]]; not with old[:cuts[hi + 1]]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if data.startswith(old[cuts[lo] : cuts[mid]], cuts[lo]):
            lo = mid
        else:
            hi = mid - 1
    if lo and data[cuts[lo] : cuts[lo] + 1] != b"{":
        lo -= 1  # data is not cut where that piece ended: it is a new piece there
    return lo


def _known_head(data: bytes, old: memoryview, cuts: list[int], count: int, prefix: int) -> int:
    """:func:`_head` when ``data`` is known to start with ``old[:prefix]``: the pieces that end within
    it, and the next one if it is equal too (``prefix`` may stop short of the pieces' end)."""
    head = bisect_right(cuts, prefix, 0, count) - 1  # cuts[head] <= prefix < cuts[head + 1]
    if head + 1 < count and data.startswith(old[prefix : cuts[head + 1]], prefix):  # its bytes past prefix
        head += 1
    if head and data[cuts[head] : cuts[head] + 1] != b"{":
        head -= 1  # as in _head: data is not cut where that piece ended
    return head


def _tail(data: bytes, at: int, old: memoryview, cuts: list[int], count: int, shift: int, equal_from: int) -> int:
    """The previous piece from which on ``data[at:]`` is the previous body's end, or 0.
    ``data[equal_from:]`` is known to be: only the bytes before it are compared."""
    start = at + shift
    j = bisect_left(cuts, start, 1, count)
    if j < count and cuts[j] == start and (at >= equal_from or data.startswith(old[start : equal_from + shift], at)):
        return j
    return 0


def _cut(data: bytes, at: int, min_piece: int) -> list[bytes]:
    raws = []
    while True:
        cut = data.find(BOUNDARY, at + min_piece)
        if cut < 0:
            raws.append(data[at:])
            return raws
        end = cut + 2
        raws.append(data[at:end])
        at = end
