"""Notes: what a translator dropped or changed, reported to the caller instead of logged.

The protocol core does no I/O, so it cannot log. Each translator returns the notes it made and the
I/O shell logs them (``server.py``), e.g. "dropped input item of type 'compaction_trigger'".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NoteLevel = Literal["debug", "info", "warning"]


@dataclass(frozen=True, slots=True)
class Note:
    level: NoteLevel
    #: a stable key, e.g. "dropped_item", "unknown_tool_type"; with ``subject`` it deduplicates
    #: process-wide warnings ("unknown tool types warned once per process")
    code: str
    subject: str
    message: str
