"""The browser guard: what keeps a hostile web page away from the gateway, the admin and the keys.

The gateway listens on ``127.0.0.1``, and every web page the user opens can send requests there. Three
attacks follow, and one rule answers each:

* **DNS rebinding** (a page on ``evil.example`` re-points its name to 127.0.0.1 and becomes "same
  origin" with us): every request whose ``Host`` is not a loopback name or the configured host is
  refused (403). A gateway bound to a wildcard address (``0.0.0.0``) has no name to check; it must
  have tokens then (``auth.check_bind``), which a rebinding page cannot know.
* **Cross-site requests** (a page POSTs to ``http://127.0.0.1:8788``): a browser sends a
  cross-site POST without asking first only when its content type is a form or text type, so every
  request with a body must be JSON (415 otherwise): a JSON request from another site is preflighted,
  and we never answer a preflight, so it is never sent. The admin also checks ``Origin`` on every
  state-changing request (it must be our own) and ``Sec-Fetch-Site`` on every API request. A request
  with no ``Origin`` is a non-browser client (curl, scripts): browsers send ``Origin`` on every
  POST/PUT/PATCH/DELETE, same-origin ones included, and the JSON rule already stops what a page could
  send without a preflight.
* **Reading answers**: no CORS header is ever sent, so a page can neither read ``/v1`` answers nor the
  admin's data; the admin pages carry a strict Content-Security-Policy (no inline script, no framing).

Beyond loopback (or whenever tokens are configured) the admin API requires a bearer token: the admin
token if set, else one of the inbound tokens. With neither, beyond loopback, the admin refuses every API
call: it is never open on a network.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mimo2codex.auth import is_loopback
from mimo2codex.errors import Forbidden, GatewayError, Unauthorized, UnsupportedMediaType
from mimo2codex.http_body import RefusalResponse, unread_budget
from mimo2codex.secret import Secret

ADMIN_PREFIX = "/admin"
API_PREFIX = "/admin/api"
#: names a loopback listener answers to (any port: the check is about the name a page resolved)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: what a page may trigger: no inline code, nothing from elsewhere, never inside a frame
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which ``Host`` names the gateway answers to; ``None``: any (wildcard bind, tokens required)."""

    names: frozenset[str] | None

    @classmethod
    def for_bind(cls, host: str) -> HostPolicy:
        bare = host.strip().strip("[]").lower()
        if bare in _WILDCARDS:
            return cls(None)
        return cls(LOOPBACK_NAMES | {bare})

    def allows(self, host_header: str | None) -> bool:
        if self.names is None:
            return True
        if not host_header:
            return False  # HTTP/1.1 requires Host; a request without one is not from a browser we serve
        return host_name(host_header) in self.names


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:8788`` -> ``::1``, ``Localhost:80`` -> ``localhost``."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def is_json(content_type: str | None) -> bool:
    """``application/json`` (parameters allowed) or a ``+json`` type: never what a form can send."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


@dataclass(frozen=True, slots=True)
class AdminAccess:
    """Who may call the admin API."""

    #: tokens the API accepts (empty: none needed, on loopback without tokens)
    tokens: tuple[bytes, ...]
    #: why the API is closed altogether, or None
    closed: str | None = None

    @classmethod
    def build(cls, host: str, auth_tokens: Sequence[Secret], admin_token: Secret | None) -> AdminAccess:
        if admin_token is not None and admin_token:
            return cls((admin_token.reveal().encode(),))
        tokens = tuple(t.reveal().encode() for t in auth_tokens if t)
        if tokens:
            return cls(tokens)
        if not is_loopback(host):
            return cls(
                (),
                closed=f"the admin API is closed: mimo2codex listens on {host} without tokens. Set "
                "MIMO2CODEX_ADMIN_TOKEN (or --admin-token) and send it as 'Authorization: Bearer <token>'",
            )
        return cls(())

    @property
    def needs_token(self) -> bool:
        return bool(self.tokens) or self.closed is not None

    def check(self, authorization: str | None) -> None:
        if self.closed is not None:
            raise Forbidden(self.closed, code="admin_closed")
        if not self.tokens:
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "the admin API needs a token: send 'Authorization: Bearer <token>' with the admin token "
                "(MIMO2CODEX_ADMIN_TOKEN), or one of the inbound tokens when no admin token is set",
                code="admin_token_required",
            )
        candidate = token.strip().encode()
        matched = False
        for known in self.tokens:  # no early exit: constant time per token
            matched |= hmac.compare_digest(candidate, known)
        if not matched:
            raise Unauthorized("invalid admin token", code="admin_token_invalid")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def same_origin(origin: str, host_header: str | None) -> bool:
    """``Origin`` names this very server (scheme http or https, same host and port as ``Host``)."""
    if not host_header or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return parts.netloc.lower() == host_header.strip().lower()


def check_request(scope: Scope, policy: HostPolicy, access: AdminAccess | None) -> None:
    """Raise the :class:`GatewayError` a request is refused with, or return when it may pass.

    ``access`` is None when the admin is disabled (its routes then answer 404 anyway).
    """
    path: str = scope["path"]
    method: str = scope["method"]
    host = _header(scope, b"host")
    if path == "/healthz":
        return  # liveness probes come with whatever Host the load balancer uses; it reveals nothing
    if not policy.allows(host):
        raise Forbidden(
            f"refused: Host {host!r} is not a name this gateway answers to (a page that re-pointed its own name "
            "to this machine, DNS rebinding). Use http://127.0.0.1 or http://localhost, or the --host address",
            code="host_not_allowed",
        )
    has_body = method in ("POST", "PUT", "PATCH") or _header(scope, b"content-length") not in (None, "0")
    if has_body and not is_json(_header(scope, b"content-type")):
        raise UnsupportedMediaType(
            f"{method} {path} needs 'Content-Type: application/json' (browsers send other types cross-site "
            "without asking, so they are refused); with curl, add -H 'Content-Type: application/json'",
            code="json_required",
        )
    if access is None or not (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
        return
    fetch_site = _header(scope, b"sec-fetch-site")
    if path.startswith(API_PREFIX) and fetch_site not in (None, "same-origin", "none"):
        raise Forbidden(f"refused: a {fetch_site} request to the admin API", code="cross_site")
    if method in _UNSAFE:
        origin = _header(scope, b"origin")
        if origin is not None and not same_origin(origin, host):
            raise Forbidden(f"refused: Origin {origin!r} is not this admin's own", code="cross_origin")
    if path.startswith(API_PREFIX):
        access.check(_header(scope, b"authorization"))


class BrowserGuardMiddleware:
    """Applies :func:`check_request` to every HTTP request; adds the admin's security headers."""

    def __init__(self, app: ASGIApp, policy: HostPolicy, access: AdminAccess | None, *, drain_limit: int) -> None:
        self.app = app
        self.policy = policy
        self.access = access
        #: the most of a refused body that is read and dropped so its client reads the refusal: the
        #: largest body the gateway accepts (``max_body_bytes``), past it the client is cut off
        self.drain_limit = drain_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        try:
            check_request(scope, self.policy, self.access)
        except GatewayError as exc:
            await _refuse(exc, scope, receive, send, SECURITY_HEADERS if admin else (), self.drain_limit)
            return
        if not admin:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _OWN_HEADERS]
                headers += SECURITY_HEADERS
                if path.startswith(API_PREFIX) and not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))  # logs and settings stay out of caches
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OWN_HEADERS = frozenset(name for name, _ in SECURITY_HEADERS)


async def _refuse(
    error: GatewayError, scope: Scope, receive: Receive, send: Send, extra: Iterable[tuple[bytes, bytes]], most: int
) -> None:
    """Answer ``error`` so that the client reads it, even one that sends its whole body first (urllib):
    the refusal goes out, then the body is drained (up to ``most`` bytes: see ``http_body``), then closed."""
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in extra]
    if isinstance(error, Unauthorized):
        headers.append(("www-authenticate", 'Bearer realm="mimo2codex admin"'))
    drain = unread_budget(_header(scope, b"content-length"), _header(scope, b"expect"), most)
    response = RefusalResponse(error, drain=drain, headers=headers)  # a bodiless request ends the drain at once
    await response(scope, receive, send)
