"""Inbound authentication: who may spend the upstream keys this gateway holds.

On loopback the gateway stays zero-config, as the Node original was: only local processes reach it.
Bound to any other address, everyone who can reach the port could use the upstream keys, so it
requires bearer tokens, or an explicit, loudly-named opt-out (``--insecure-no-auth``).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from mimo2codex.errors import ConfigError, Unauthorized
from mimo2codex.secret import Secret

#: paths that answer without a token: liveness probes must work from a load balancer
OPEN_PATHS = frozenset({"/healthz"})


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, tokens: Sequence[Secret], insecure_no_auth: bool) -> None:
    """Refuse to start on a non-loopback address without inbound tokens (unless opted out)."""
    if is_loopback(host) or tokens or insecure_no_auth:
        return
    raise ConfigError(
        f"refusing to listen on {host} without inbound tokens: anyone who can reach this port could spend your "
        "upstream API keys. Set MIMO2CODEX_AUTH_TOKENS (comma-separated) or --auth-token, and give Codex the "
        "same token (env_key), or pass --insecure-no-auth if the network is truly private."
    )


def _presented_token(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key":
            return value.decode("latin-1").strip()
    return None


class BearerAuthMiddleware:
    """Rejects HTTP requests without one of ``tokens`` (401 in the OpenAI error shape)."""

    def __init__(self, app: ASGIApp, tokens: Sequence[Secret], open_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self._tokens = tuple(t.reveal().encode() for t in tokens if t)
        #: paths that check tokens of their own (the admin: admin/security.py)
        self._open_prefixes = open_prefixes

    def _allowed(self, presented: str | None) -> bool:
        if presented is None:
            return False
        candidate = presented.encode()
        # Compare against every token, without an early exit, in constant time per token.
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(candidate, token)
        return matched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["path"].startswith(self._open_prefixes):
            await self.app(scope, receive, send)
            return
        presented = _presented_token(scope)
        if self._allowed(presented):
            await self.app(scope, receive, send)
            return
        error = Unauthorized(
            "missing inbound token: send 'Authorization: Bearer <token>' with one of the gateway's MIMO2CODEX_AUTH_TOKENS"
            if presented is None
            else "invalid inbound token for this gateway"
        )
        body = orjson.dumps(error.to_body())
        await send(
            {
                "type": "http.response.start",
                "status": error.status_code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="mimo2codex"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
