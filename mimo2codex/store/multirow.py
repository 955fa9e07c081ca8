"""Multi-row statements on SQLite: many rows of one statement shape in a few statements, not a step each.

The sqlite3 module releases the GIL around every statement step and takes it back after. With a
busy thread beside the writer (the event loop, a render thread), each take-back can wait a switch
interval (5 ms), so a batch written as a thousand steps cannot overlap with anything: written as a
handful of statements it can. A statement holds up to ``most`` rows; a batch of ``n`` rows goes in
as one statement per set bit of ``n`` (sizes are powers of two), so the statement texts stay few
and all live in the connection's statement cache. The bound-variable limit of the SQLite build
(32766 since 3.32, 999 before) caps a statement's rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any


def largest_rows(conn: sqlite3.Connection, width: int, most: int) -> int:
    """The most rows of ``width`` values one statement may bind on this connection, at most ``most``:
    a power of two (a chunk padded to a power of two still fits)."""
    fits = max(1, min(most, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    return 1 << (fits.bit_length() - 1)


class MultiRow:
    """A statement of ``width`` values per row (an INSERT, an upsert, a ``DELETE ... IN``), run over a
    flat list of values."""

    def __init__(self, sql: Callable[[int], str], width: int, most: int) -> None:
        #: ``sql(n)``: the statement binding ``n`` rows
        self.sql = sql
        self.width = width
        self.most = most
        self._texts: dict[int, str] = {}

    def text(self, rows: int) -> str:
        found = self._texts.get(rows)
        if found is None:
            found = self._texts[rows] = self.sql(rows)
        return found

    def largest(self, conn: sqlite3.Connection) -> int:
        """The most rows one statement binds on this connection: a power of two."""
        return largest_rows(conn, self.width, self.most)

    def execute(self, conn: sqlite3.Connection, values: Sequence[Any]) -> int:
        """Run the statements for ``values`` (``width`` per row, in order); returns how many ran."""
        width = self.width
        rows = len(values) // width
        size = self.largest(conn)
        start = 0
        statements = 0
        while start < rows:
            while rows - start < size:
                size >>= 1
            conn.execute(self.text(size), values[start * width : (start + size) * width])
            start += size
            statements += 1
        return statements
