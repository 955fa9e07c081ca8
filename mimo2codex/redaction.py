"""Redaction: the pass that removes secrets from anything about to be logged, dumped or stored.

Three layers catch a key wherever it hides: ``Authorization``/``api-key`` style headers, values of
key-like JSON/query fields (``"api_key": "..."``, ``?key=...``), and bare vendor keys
(``sk-...``, ``tp-...``, ``Bearer ...``). Known secrets (the configured upstream keys) are replaced
verbatim first, so even a key with no recognisable shape never leaves the process.

>>> redact('Authorization: Bearer sk-abcdefghijklmnop1234')
'Authorization: Bearer [REDACTED]'
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mimo2codex.pattern_set import PatternSet, compile_set, escaped

MASK = "[REDACTED]"

#: A header's value is masked unless it is a placeholder (``Bearer <token>`` in a help text) or the
#: scheme word itself (``Authorization: Bearer`` with nothing after it).
_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key)(\"?\s*[:=]\s*\"?)(bearer\s+|basic\s+)?"
    r"(?![<\[])(?!(?:bearer|basic)\b)[^\s\",;]+"
)
#: A field named like a credential (``api_key``, ``secret``, ``password``...) is masked whatever its
#: value; the plain English words ``key`` and ``token`` only when the value looks like a secret (at
#: least 8 characters with a digit, or at least 16), so that ``providers with a key: second-en``
#: or ``token: <token>`` stay readable.
_FIELD = re.compile(
    r"(?i)([\"']?\b(?:(?P<strong>api[_-]?key|apikey|access[_-]?token|secret|password)|token|key)[\"']?\s*[:=]\s*[\"']?)"
    r"(?(strong)[^\s\"',&}]{6,}|(?:(?=[^\s\"',&}]*\d)[^\s\"',&}]{8,}|[^\s\"',&}]{16,}))"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
_VENDOR_KEY = re.compile(r"\b(?:sk|tp|pk|rk|ak)-[A-Za-z0-9_-]{12,}")
#: Every match of the patterns above contains one of these once case-folded (Python's case-insensitive
#: matching of these letters agrees with str.casefold, Unicode look-alikes included). Most log lines
#: contain none, and these substring checks cost a tenth of the four substitutions they skip.
_SUSPECT_WORDS = ("key", "token", "secret", "password", "author", "bearer", "sk-", "tp-", "pk-", "rk-", "ak-")


#: Long texts (request bodies kept by the request log) take the anchored path below: the four
#: patterns scan every position of the text (~0.1 µs per character each), while every match starts
#: a few characters before one of the words it contains, at an offset the pattern fixes. Per pattern:
#: its words and the offsets (in characters) a match can start before each of them.
_ANCHORS: tuple[tuple[re.Pattern[str], tuple[tuple[str, tuple[int, ...]], ...]], ...] = (
    # authorization / proxy-authorization; api-key / x-api-key / x-goog-api-key
    (_HEADER, (("author", (0, 6)), ("key", (4, 6, 11)))),
    # an optional quote, then api_key / apikey / key, access_token / accesstoken / token, ...
    (_FIELD, (("key", (0, 1, 3, 4, 5)), ("token", (0, 1, 6, 7, 8)), ("secret", (0, 1)), ("password", (0, 1)))),
    (_BEARER, (("bearer", (0,)),)),
    # sk- pk- rk- ak- tp-: found at their dash, as "k-" (see _VENDOR_DASH)
    (_VENDOR_KEY, (("k-", (1,)),)),
)
ANCHORED_MIN = 512
#: characters that case-insensitive matching equates with an ASCII letter of the words, but that
#: lowering does not turn into it: such a text takes the full scan
_CASE_ODDITIES = ("\u017f", "\u0130", "\u0131", "\u212a")


#: Words are searched for in the UTF-8 bytes, lowered (ASCII only: see _CASE_ODDITIES), each pass
#: costing ~0.5-1 ns a byte whether it is a find() or a regex with a literal first byte (a longer
#: needle skips further: "author" is looked for as the "authorization" it must start). So the two
#: words with a "k" are one regex pass from that (rare) letter, and the vendor prefixes ("sk-" ...
#: "tp-") one pass from their dash; the other words one find() each.
#:
#: A match has the word followed by an optional quote, spaces, then ":" or "=" (HEADER, FIELD), or
#: by spaces (BEARER). An occurrence followed by anything else ("tokens", "keyboard") starts no
#: match, and is dropped before the patterns are tried at its offsets: for "key" and "token" in the
#: pattern itself (a lookahead, tried only where "key" or "ken" matched), so the "tokens" of every
#: response's usage cost no step in Python. A byte from 0x80 may begin a non-ASCII space (``\s`` on
#: str), so it is kept.
_SPACES = frozenset(b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f") | frozenset(range(0x80, 0x100))
_NAME_END = _SPACES | frozenset(b"\"':=")
#: _NAME_END as a pattern's character class
_NAME_END_CLASS = b"[" + escaped(bytes(sorted(_NAME_END))) + b"]"
_K_WORDS = re.compile(rb"k(?:ey|en)(?=" + _NAME_END_CLASS + rb")")  # no lookbehind: slower
_VENDOR_DASH = re.compile(rb"-(?<=[kp]-)")
_FOUND_WORDS = ("author", "secret", "password", "bearer")
_FOUND_NEEDLES = (b"authorization", b"secret", b"password", b"bearer")
#: :func:`_no_words_in`'s tests as one pattern set on the bytes before lowering, case-insensitive
#: (ASCII letters, as ``bytes.lower``): the four words, a "k" word with its name's end, a vendor
#: prefix's dash
ANCHOR_PATTERNS = (*_FOUND_NEEDLES, rb"k(?:ey|en)" + _NAME_END_CLASS, rb"[kp]-")
#: the found words but "author" (followed by "ization", in its needle), with what may follow them
_FOLLOWERS = ((b"secret", _NAME_END), (b"password", _NAME_END), (b"bearer", _SPACES))


def _word_positions(text: str, raw: bytes | None = None) -> dict[str, Sequence[int]]:
    """Where each anchor word that can start a match occurs in ``text``, case-insensitively, in
    characters (``"k-"``: a dash after "k" or "p", at the letter).

    The text is searched as lowered UTF-8 (``raw`` when the caller has the bytes already: lowering and
    searching bytes is several times faster than a str of wide characters). When the text is not
    ASCII the byte offsets are turned back into character offsets in one pass.
    """
    if raw is None:
        raw = text.encode("utf-8", "surrogatepass")
    found = _byte_positions(raw)
    if len(raw) == len(text) or not any(found.values()):  # ASCII (a byte is a character), or none
        return found
    offsets = sorted({at for ats in found.values() for at in ats})
    chars: dict[int, int] = {}
    byte_at = char_at = 0
    for at in offsets:
        char_at += len(raw[byte_at:at].decode("utf-8", "surrogatepass"))
        byte_at = at
        chars[at] = char_at
    return {word: [chars[at] for at in ats] for word, ats in found.items()}


def _byte_positions(raw: bytes) -> dict[str, Sequence[int]]:
    """:func:`_word_positions` in bytes of the UTF-8 ``raw``."""
    low = raw.lower()
    key: list[int] = []
    token: list[int] = []
    for match in _K_WORDS.finditer(low):  # few: only those followed by a name's end
        at = match.start()
        if low[at + 2] == 0x79:  # "y"
            key.append(at)
        elif at >= 2 and low.startswith(b"to", at - 2):
            token.append(at - 2)
    found: dict[str, Sequence[int]] = {"key": key, "token": token}
    found["k-"] = dash = [match.start() - 1 for match in _VENDOR_DASH.finditer(low)]
    # find(), not `in`: on bytes, `in` first tries its operand as an integer, raising and clearing
    # a TypeError (~150 ns a test). Most texts have none of the four words: one find() each.
    if max(map(low.find, _FOUND_NEEDLES)) < 0:
        found.update(dict.fromkeys(_FOUND_WORDS, ()))
        if not (key or token or dash):
            return found  # the usual text
    else:
        size = len(low)
        found["author"] = _find_all(low, b"authorization")
        for needle, followers in _FOLLOWERS:
            end = len(needle)
            found[needle.decode()] = [
                at for at in _find_all(low, needle) if at + end < size and low[at + end] in followers
            ]
    return found


@functools.cache
def _anchor_set() -> PatternSet | None:
    return compile_set(ANCHOR_PATTERNS, [True] * len(ANCHOR_PATTERNS))


def _no_words(raw: bytes) -> bool:
    """Whether the UTF-8 ``raw`` has none of the words :func:`_byte_positions` looks for (the usual
    body): one Hyperscan pass (:mod:`mimo2codex.pattern_set`) where it runs, else
    :func:`_no_words_in` its lowered bytes."""
    anchors = _anchor_set()
    if anchors is not None:
        return not anchors.any_in(raw)
    return _no_words_in(raw.lower())


def _no_words_in(low: bytes) -> bool:
    """:func:`_no_words` of the lowered ``low`` with the standard library: the passes of
    :func:`_byte_positions` without the Python that lists and filters what they find. Each test
    here is wider than the one there (a "ken" not after "to", a word without its follower), so a
    text this passes has no position there either."""
    return _K_WORDS.search(low) is None and _VENDOR_DASH.search(low) is None and max(map(low.find, _FOUND_NEEDLES)) < 0


def _find_all(haystack: Any, needle: Any) -> list[int]:
    found = []
    at = haystack.find(needle)
    while at >= 0:
        found.append(at)
        at = haystack.find(needle, at + 1)
    return found


def _anchored_sub(
    text: str,
    positions: Mapping[str, Sequence[int]],
    pattern: re.Pattern[str],
    anchors: tuple[tuple[str, tuple[int, ...]], ...],
    repl: Any,
) -> str:
    """``pattern.sub(repl, text)``, trying matches only where one can start (see _ANCHORS)."""
    starts = {at - offset for word, offsets in anchors for at in positions[word] for offset in offsets if at >= offset}
    if not starts:
        return text
    if len(starts) * 16 > len(text):
        # dense in these words: trying each start costs more than one scan of the text
        return pattern.sub(repl, text)
    pieces: list[str] = []
    done = 0
    for start in sorted(starts):
        if start < done:
            continue  # inside the previous match: sub() never overlaps matches
        found = pattern.match(text, start)
        if found is None or found.end() == start:
            continue
        pieces += [text[done:start], repl(found) if callable(repl) else found.expand(repl)]
        done = found.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _header_mask(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{MASK}"


def _field_mask(m: re.Match[str]) -> str:
    return f"{m.group(1)}{MASK}"


def _redact_anchored(text: str, raw: bytes | None = None) -> str:
    replacements: tuple[Any, ...] = (_header_mask, _field_mask, f"Bearer {MASK}", MASK)
    positions = _word_positions(text, raw)
    if not any(positions.values()):
        return text  # the usual case: no word a match could start at
    for (pattern, anchors), repl in zip(_ANCHORS, replacements, strict=True):
        changed = _anchored_sub(text, positions, pattern, anchors, repl)
        if changed is not text:  # rare: a key was found; the later patterns see the new text
            text, positions = changed, _word_positions(changed)
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret it contains replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    if len(text) >= ANCHORED_MIN and not any(odd in text for odd in _CASE_ODDITIES):
        return _redact_anchored(text)
    return _redact_scan(text)


#: the case oddities in UTF-8; each starts with a byte that is rare in text, checked first (memchr)
_ODD_BYTES = tuple((odd.encode()[-1:], odd.encode()) for odd in _CASE_ODDITIES)


def redact_utf8(raw: bytes) -> str:
    """The text of UTF-8 ``raw`` with every key-like shape replaced, as :func:`redact` without secrets.

    For a body the caller holds as bytes (the request log): the search for the words runs on these
    bytes, so a non-ASCII text is neither encoded again nor lowered as a str. Known secrets are the
    caller's to replace first (``bytes.replace`` is as exact on UTF-8 as on str).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return redact(raw.decode("utf-8", "replace"))
    if len(raw) < ANCHORED_MIN:
        return _redact_scan(text)
    if raw.isascii():
        if _no_words(raw):
            return text  # the usual body: no word a match could start at
    elif any(rare in raw and odd in raw for rare, odd in _ODD_BYTES):
        return _redact_scan(text)
    return _redact_anchored(text, raw)


def unchanged_utf8(raw: bytes) -> bool:
    """Whether :func:`redact_utf8` gives ``raw``'s own text back. Told from the bytes alone for most
    bodies (ASCII and none of the words a match starts at), without decoding them."""
    if len(raw) >= ANCHORED_MIN and raw.isascii() and _no_words(raw):
        return True
    return redact_utf8(raw).encode("utf-8", "surrogatepass") == raw


def _redact_scan(text: str) -> str:
    folded = text.casefold()
    if not any(word in folded for word in _SUSPECT_WORDS):
        return text
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _BEARER.sub(f"Bearer {MASK}", text)
    return _VENDOR_KEY.sub(MASK, text)


def _scrub(record: logging.LogRecord, secrets: tuple[str, ...]) -> None:
    message = record.getMessage()
    cleaned = redact(message, secrets)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text, secrets)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every record's final message, arguments and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record, self.secrets)
        return True


_BASE_FACTORY = "_mimo2codex_base_factory"


def install(secrets: Iterable[str] = ()) -> None:
    """Redact every log record this process creates, whatever logger or handler it goes through.

    A record factory rather than handler filters: uvicorn and aiohttp configure handlers of their
    own, and a traceback logged by any of them must not carry a key either. Calling it again
    replaces the secrets list instead of stacking factories.
    """
    current = logging.getLogRecordFactory()
    base = getattr(current, _BASE_FACTORY, current)
    known = tuple(s for s in secrets if s)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        _scrub(record, known)
        return record

    setattr(factory, _BASE_FACTORY, base)
    logging.setLogRecordFactory(factory)
