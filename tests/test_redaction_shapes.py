"""What the generic patterns leave alone: gateway messages that name keys and tokens without one."""

from __future__ import annotations

import pytest

from mimo2codex.redaction import MASK, redact


@pytest.mark.parametrize(
    "text",
    [
        # settings.py's error when no provider is chosen (the admin console showed it redacted)
        "providers with a key: second-en, second-zh",
        "pass --model <id|shortcut> or set MIMO2CODEX_DEFAULT_PROVIDER (providers with a key: mimo).",
        # the admin API's and the inbound guard's help texts
        "the admin API needs a token: send 'Authorization: Bearer <token>' with the admin token",
        "missing inbound token: send 'Authorization: Bearer <token>' with one of the gateway's MIMO2CODEX_AUTH_TOKENS",
        "Authorization: Bearer <admin token>. Errors use the OpenAI error shape.",
        "Authorization: Bearer",
        "the token: none given",
    ],
)
def test_messages_naming_keys_are_left_readable(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key: abc123def456", "abc123def456"),  # short, but with a digit: a secret
        ("key: abcdefghijklmnopqrst", "abcdefghijklmnopqrst"),  # no digit, but long
        ("token=zyxwvut9876", "zyxwvut9876"),
        ("?key=AIzaSyA1b2c3d4e5f6", "AIzaSyA1b2c3d4e5f6"),
        ('"password": "hunter"', "hunter"),  # a credential's name: any value of 6+ characters
        ('"secret": "letmein"', "letmein"),
        ("api_key=plainwords", "plainwords"),
        ("Authorization: Bearer abcdefgh", "abcdefgh"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("x-api-key: secretvalue", "secretvalue"),
        ("Authorization: rawkeyvalue1", "rawkeyvalue1"),
    ],
)
def test_secret_looking_values_are_still_masked(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert MASK in cleaned


def test_the_same_rules_hold_on_the_long_text_path() -> None:
    # bodies of 512+ characters take the anchored path: same verdicts
    filler = "word " * 200
    text = f"{filler}providers with a key: second-en, second-zh; send 'Authorization: Bearer <token>' {filler}"
    assert redact(text) == text
    leaked = f"{filler}key: abc123def456 {filler}"
    assert "abc123def456" not in redact(leaked)
