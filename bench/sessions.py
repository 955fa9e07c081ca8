"""Codex sessions for the writer benchmarks: every request distinct, as a real session sends them.

A Codex turn resends the whole conversation: the fixture's first request (its ~20 KB of developer
and user messages, its ~17 KB tool list) plus, per turn so far, a user message, the model's reasoning
summary, a command call, the command's output and the assistant's answer, each with its own text
(:func:`turn_items`). So turn ``t`` of a session is the previous turn's request with ~2.5 KB more
input, and ``prompt_cache_key`` names the session. :func:`session_records` runs ``sessions``
sessions, 64 at a time, interleaved turn by turn (the order a shared gateway sees them in); each
record also gets its own ~2.4 KB response. :func:`unique_records` is the other extreme: bodies sharing no bytes at all.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

import orjson

from bench.store_data import codex_record, codex_request_body
from mimo2codex.request_log import RequestRecord

#: sessions running at once in :func:`session_records`
ACTIVE = 64
_PROSE = (
    "the change is in src/main.rs; the test in tests/parse.rs covers the empty input and the trailing "
    "comma, cargo test passes, clippy warns about a needless borrow in lexer.rs line 88, fixed; the "
    "README now documents --strict and the config option strict_mode"
)
_WORDS = tuple(_PROSE.split(" "))


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def turn_items(session: int, turn: int) -> list[dict[str, Any]]:
    """The items turn ``turn`` adds to session ``session``'s input (~2.5 KB, distinct text)."""
    rng = random.Random(session * 100_003 + turn)
    call_id = f"call_{hashlib.sha1(f'{session}:{turn}'.encode()).hexdigest()[:24]}"
    command = f"rg -n '{rng.choice(_WORDS)}' src tests | head -{rng.randint(5, 80)}"
    return [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": _text(rng, 240)}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": _text(rng, 300)}], "content": None},
        {
            "type": "function_call",
            "name": "exec_command",
            "arguments": orjson.dumps({"cmd": command, "workdir": f"/home/dev/project-{session}"}).decode(),
            "call_id": call_id,
        },
        # as in real sessions, now and then a word the redaction looks at (~0.5 per KB in the fixtures)
        {"type": "function_call_output", "call_id": call_id, "output": f"max_tokens: 4096; {_text(rng, 1500)}"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": _text(rng, 400)}],
        },
    ]


def session_bodies(session: int, turns: int, base: dict[str, Any]) -> list[bytes]:
    """The compact request bodies of turns 1..``turns`` of one session."""
    request = dict(base)
    request["prompt_cache_key"] = f"0199{session:08x}-c4fb-7b03-924d-6d2126270e50"
    items = list(base["input"])
    bodies = []
    for turn in range(1, turns + 1):
        if turn > 1:
            items += turn_items(session, turn - 1)
        request["input"] = items
        bodies.append(orjson.dumps(request))
    return bodies


def session_records(sessions: int, turns: int, active: int = ACTIVE) -> list[RequestRecord]:
    """``sessions`` sessions of ``turns`` turns each, ``active`` of them at a time, interleaved turn by
    turn; when one ends the next begins (a team's gateway: a few dozen people, each in a session)."""
    base = orjson.loads(codex_request_body())
    now = time.time()
    records: list[RequestRecord] = []
    waiting = iter(range(sessions))
    running: list[tuple[list[bytes], int]] = []
    while True:
        while len(running) < active:
            session = next(waiting, None)
            if session is None:
                break
            running.append((session_bodies(session, turns, base), 0))
        if not running:
            return records
        still = []
        for bodies, turn in running:
            records.append(codex_record(len(records), bodies[turn], started=now))
            if turn + 1 < turns:
                still.append((bodies, turn + 1))
        running = still


def unique_records(n: int, size: int = 40_000) -> list[RequestRecord]:
    """``n`` records whose ~``size``-byte bodies share nothing (no piece of one is in another)."""
    now = time.time()
    records = []
    for i in range(n):
        rng = random.Random(i)
        items = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"{i}:{_text(rng, 1800)}"}]}
            for _ in range(size // 2000)
        ]
        records.append(codex_record(i, orjson.dumps({"model": "gpt-5-codex", "input": items}), started=now))
    return records
