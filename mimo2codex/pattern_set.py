"""A set of byte patterns asked one question in one pass: does any of them occur? (Hyperscan.)

The request log's writer asks it of every body's new bytes: is there a word of the redaction's, a
data URL or a known secret in them (:class:`mimo2codex.store.capture.Untouched`,
:func:`mimo2codex.redaction.unchanged_utf8`)? The standard library answers with one pass per pattern
(``bytes.find``, ``re``, ``bytes.replace``: ~0.5 ns a byte each, the words after a lowering pass);
Hyperscan's SIMD matcher answers for all of them in one pass, case-insensitively where asked without
lowering, and without holding the GIL (the writer's database thread runs meanwhile).

Optional: where the ``hyperscan`` package is missing or cannot run here (a CPU without SSSE3, a
platform without its wheel), :func:`compile_set` gives None and the caller takes its standard-library
path, which gives the same answers (a property test compares the two).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("mimo2codex.pattern_set")


def escaped(data: bytes) -> bytes:
    """``data`` as pattern text matching these bytes, each as ``\\xHH`` (no byte is pattern syntax
    then, and ``re`` and Hyperscan read it alike): for a key, or a character class's members."""
    return b"".join(b"\\x%02x" % byte for byte in data)


def _stop(*_: Any) -> bool:
    return True  # the first match answers the question: end the scan there


class PatternSet:
    """Compiled ``patterns`` (PCRE-like, on bytes), each case-insensitive (ASCII letters) or not."""

    def __init__(self, hyperscan: Any, patterns: Sequence[bytes], caseless: Sequence[bool]) -> None:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        flags = [hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if fold else 0) for fold in caseless]
        database.compile(
            expressions=list(patterns), ids=list(range(len(patterns))), elements=len(patterns), flags=flags
        )
        self._database = database
        self._scratch_for = hyperscan.Scratch
        self._terminated = hyperscan.ScanTerminated
        # a scan's scratch space serves one scan at a time: one per thread (the SQLite and
        # PostgreSQL writers may share a capture policy)
        self._local = threading.local()

    def any_in(self, data: bytes) -> bool:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._scratch_for(self._database)
        try:
            self._database.scan(data, match_event_handler=_stop, scratch=scratch)
        except self._terminated:  # _stop ended it: a match
            return True
        return False


def compile_set(patterns: Sequence[bytes], caseless: Sequence[bool]) -> PatternSet | None:
    """The patterns compiled, or None where Hyperscan is not installed or cannot run here."""
    try:
        import hyperscan
    except ImportError:
        log.debug("hyperscan is not installed: pattern sets fall back to the standard library")
        return None
    try:
        return PatternSet(hyperscan, patterns, caseless)
    except hyperscan.error as exc:  # e.g. ArchitectureError: this CPU lacks what the library needs
        log.warning("hyperscan cannot run here (%s): the request log's redaction scans without it", exc)
        return None
