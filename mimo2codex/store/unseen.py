"""The stretch of a session's new pieces that its previous request did not have: the only bytes to redact.

A Codex turn's new pieces (:mod:`mimo2codex.store.cuts`) are the few around the items it added:
they start with the end of the previous request's last item before them, and end with the start
of the tools after them, bytes the previous request had and that were redacted with it. When that
redaction changed nothing (no key, no image, no known secret: the usual case), those bytes need no
search again. Only the stretch between them does, about half the new pieces' bytes.

Why that is exact. Redaction works within the stretches between commas: no match of a redaction
pattern contains a comma, nor does a known secret replaced piece by piece (the capture policy
replaces one with a comma in the whole body first), and an image's data URL has its one comma
before base64 digits, never before ``"`` or ``{``. So the redaction of a text split just after the
comma of a ``,"`` or ``,{`` is the redactions of the parts, joined. A redaction that changed
nothing keeps every comma, so each part of such a split of the previous request comes back as it
was. The new pieces' bytes up to the last such comma they share with the previous request at the
same place (from its start), and from the first one they share with its end, are such parts. Each
run of equal bytes is found by a binary search of ``memcmp`` calls (``bytes.startswith`` on a
``memoryview``).

>>> old = b'{"a":1},{"b":2},{"t":9},{"u":8}'
>>> new = b'{"a":1},{"b":2},{"n":0},{"t":9},{"u":8}'
>>> start, end = unseen(new, 0, len(new), old, len(old) - len(new), grain=1)
>>> new[start:end]
b'{"n":0},'
"""

from __future__ import annotations

import re

#: where a text may be split (after the comma) without changing its redaction (see above)
SPLITS = (b',"', b",{")
_SPLIT = re.compile(rb',["{]')
#: The equal runs are measured to within this many bytes (a shorter run is taken): each halving
#: is a call (~0.3 µs), while the bytes left out cost ~7 ns each to redact.
_GRAIN = 128


def unseen(data: bytes, start: int, end: int, old: bytes, shift: int, grain: int = _GRAIN) -> tuple[int, int]:
    """The part ``data[a:b]`` of ``data[start:end]`` to redact, when the previous request ``old``
    (redacted unchanged) has ``data``'s bytes before ``start`` at the same place, and those from
    ``end`` on at ``shift`` bytes further (``len(old) - len(data)``). ``start`` and ``end`` must be
    0, ``len(data)`` or just after a comma.
    """
    view = memoryview(old)
    same = _same_start(data, start, view, min(end, len(old)) - start, grain)
    split = max(data.rfind(mark, start, start + same) for mark in SPLITS)
    a = start if split < 0 else split + 1
    same = _same_end(data, end, view, end + shift, min(end - a, end + shift), grain)
    found = _SPLIT.search(data, end - same, end)
    b = end if found is None else found.start() + 1
    return a, max(a, b)


def _same_start(data: bytes, at: int, old: memoryview, limit: int, grain: int) -> int:
    """How many bytes from ``at`` on ``data`` and ``old`` agree, at most ``limit``, measured to within
    ``grain`` bytes (the shorter run)."""
    lo, hi = 0, max(0, limit)
    while hi - lo > grain:
        mid = (lo + hi + 1) // 2
        if data.startswith(old[at + lo : at + mid], at + lo):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _same_end(data: bytes, end: int, old: memoryview, old_end: int, limit: int, grain: int) -> int:
    """How many bytes before ``end`` in ``data`` and ``old_end`` in ``old`` agree, as :func:`_same_start`."""
    lo, hi = 0, max(0, limit)
    while hi - lo > grain:
        mid = (lo + hi + 1) // 2
        if data.startswith(old[old_end - mid : old_end - lo], end - mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
