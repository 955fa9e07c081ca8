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

Or, on a session's later turns, taken from the turn before (:func:`known_runs`): each Codex turn
inserts its items where the previous turn's items ended, which is about where that turn's equal
end run began (its ``tail_at``). Two ``memcmp`` calls check both runs around there; a request that
was not made that way fails them and has its runs measured.

>>> old = b'{"a":1},{"b":2},{"t":9},{"u":8}'
>>> new = b'{"a":1},{"b":2},{"n":0},{"t":9},{"u":8}'
>>> start, end, tail_at = unseen(new, 0, len(new), old, len(old) - len(new), grain=1)
>>> new[start:end], new[tail_at:]
(b'{"n":0},', b'{"t":9},{"u":8}')
"""

from __future__ import annotations

import re

#: where a text may be split (after the comma) without changing its redaction (see above)
SPLITS = (b',"', b",{")
_SPLIT = re.compile(rb',["{]')
#: The equal runs are measured to within this many bytes (a shorter run is taken): each halving
#: is a call (~0.3 µs), while the bytes left out cost ~7 ns each to redact.
_GRAIN = 128


#: runs known to be equal: ``(prefix, suffix)``, ``data[:prefix] == old[:prefix]`` and
#: ``data[suffix:] == old[suffix + shift:]``
Runs = tuple[int, int]


def known_runs(data: bytes, old: bytes, tail_at: int, grain: int = _GRAIN) -> Runs | None:
    """The equal runs of ``data`` and the previous request ``old``, when ``data``'s new bytes were
    inserted where the session's turns insert theirs: ``tail_at``, that place in ``old`` as last
    measured (where an equal end run began), which may lie a few bytes before it (inserted bytes
    may end as those before them do) or up to ``grain`` after it (the run was measured to within
    that). Both runs are taken ``grain`` short of it and checked with two ``memcmp`` calls; None if
    they fail. On the next turn the place is ``tail_at + len(data) - len(old)``.
    """
    prefix = tail_at - grain
    old_suffix = tail_at + grain
    suffix = old_suffix - len(old) + len(data)
    if not (prefix > 0 and old_suffix <= len(old) and 0 <= suffix <= len(data)):
        return None
    view = memoryview(old)
    if data.startswith(view[:prefix]) and data.startswith(view[old_suffix:], suffix):
        return prefix, suffix
    return None


def unseen(
    data: bytes, start: int, end: int, old: bytes, shift: int, grain: int = _GRAIN, runs: Runs | None = None
) -> tuple[int, int, int]:
    """The part ``data[a:b]`` of ``data[start:end]`` to redact, when the previous request ``old``
    (redacted unchanged) has ``data``'s bytes before ``start`` at the same place, and those from
    ``end`` on at ``shift`` bytes further (``len(old) - len(data)``). ``start`` and ``end`` must be
    0, ``len(data)`` or just after a comma. Returns ``(a, b, tail_at)``: ``tail_at`` is where the
    equal end run begins (for :func:`known_runs` on the next turn). ``runs``: as :func:`known_runs`
    gives them, instead of measuring.
    """
    if runs is not None:
        prefix, suffix = runs
        same = min(max(0, prefix - start), end - start)
        same_end = min(max(0, end - suffix), end - start)
    else:
        view = memoryview(old)
        same_end = _same_end(data, end, view, end + shift, min(end - start, end + shift), grain)
        # A Codex turn inserts items: the bytes equal at the start then reach at least where those
        # equal at the end begin in the previous request, less the grain that run was measured to.
        # One memcmp checks that guess (a shorter run is never wrong); if it fails, it is measured.
        limit = min(end, len(old)) - start
        guess = end - same_end + shift - grain - start
        if 0 < guess <= limit and data.startswith(view[start : start + guess], start):
            same = guess
        else:
            same = _same_start(data, start, view, limit, grain)
    # the last mark of SPLITS in the equal run (two calls spelled out: no generator to run a row)
    split = max(data.rfind(SPLITS[0], start, start + same), data.rfind(SPLITS[1], start, start + same))
    a = start if split < 0 else split + 1
    # the runs may overlap (an insertion of bytes the previous request had around it): both ends
    # are then redacted unchanged, and so is the whole
    found = _SPLIT.search(data, end - same_end, end)
    b = end if found is None else found.start() + 1
    return a, max(a, b), end - same_end


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
