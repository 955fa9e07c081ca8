"""The one exception tree of mimo2codex, and its mapping to OpenAI-shaped errors.

Every error the gateway can report is a subclass of :class:`Mimo2CodexError`.  The HTTP boundary
(``server.py``) is the only place that turns them into responses, via :meth:`GatewayError.to_body`
before a stream has started and :meth:`GatewayError.failed_code` once it has.

::

    Mimo2CodexError
    ├── ConfigError                 bad settings / providers.json: a CLI message, never an HTTP body
    ├── ToolError                   a helper command's failure -> exit code (tree in skills/failure.py)
    └── GatewayError                anything that answers an HTTP request (status, type, code)
        ├── InvalidRequest          400  the client sent something we cannot use
        │   └── PayloadTooLarge     413
        ├── Unauthorized            401  missing / wrong inbound bearer token
        ├── Forbidden               403  refused by the browser guard (foreign Host or Origin)
        ├── NotFound                404  unknown route or model
        │   └── ResponseNotFound    404  unknown stored response id (GET/DELETE /v1/responses/{id})
        ├── MethodNotAllowed        405
        ├── Conflict                409  the change clashes with the current state (a locked toggle)
        ├── UnsupportedMediaType    415  a body that is not JSON (what a cross-site form sends)
        └── UpstreamError           the upstream failed; status mirrors what Codex should see
            ├── UpstreamRejected        4xx from the upstream (its message passed on)
            │   └── ContextLengthExceeded   400 context_length_exceeded (fatal in Codex)
            ├── UpstreamRateLimited     429 + Retry-After
            ├── UpstreamUnavailable     502 connect errors, 5xx, garbage bodies
            └── UpstreamTimeout         504 connect / idle timeouts
                └── FirstByteTimeout        504 nothing within the first-byte budget (not retried)
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from mimo2codex.redaction import redact

#: the pattern Codex reads a retry delay from (codex-api ``try_parse_retry_delay``, CONTRACT §1.6)
_CODEX_RETRY_HINT = re.compile(r"(?i)try again in\s*(\d+(\.\d+)?)\s*(s|ms|seconds?)\b")


class Mimo2CodexError(Exception):
    """Base of every error raised on purpose by mimo2codex."""


class ConfigError(Mimo2CodexError):
    """Invalid configuration; the message names the file (or env var), the provider and the field."""


class GatewayError(Mimo2CodexError):
    """An error that answers an HTTP request in the OpenAI error shape."""

    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        # Upstream error texts can echo the key they rejected: scrub at the one place every
        # client-visible and logged error message is born.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param

    @property
    def status_code(self) -> int:
        return self.status

    def headers(self) -> dict[str, str]:
        return {}

    def to_body(self) -> dict[str, Any]:
        """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def failed_code(self) -> str:
        """The ``response.failed`` error code used once an SSE stream has started (CONTRACT §1.6)."""
        return self.code or self.error_type


class InvalidRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"


class PayloadTooLarge(InvalidRequest):
    status = 413
    default_code = "request_too_large"

    def __init__(self, message: str, *, drain: int = 0) -> None:
        super().__init__(message)
        #: how many more body bytes the 413 may read and discard so the client, still sending,
        #: gets to read it (http_body.RefusalResponse); 0 answers and closes at once
        self.drain = drain


class Unauthorized(GatewayError):
    status = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class Forbidden(InvalidRequest):
    status = 403
    default_code = "forbidden"


class NotFound(InvalidRequest):
    status = 404
    default_code = "not_found"


class ResponseNotFound(NotFound):
    """An unknown, expired or deleted stored response id: OpenAI's 404 has ``code: null``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = None


class Conflict(InvalidRequest):
    status = 409
    default_code = "conflict"


class UnsupportedMediaType(InvalidRequest):
    status = 415
    default_code = "unsupported_media_type"


class MethodNotAllowed(InvalidRequest):
    status = 405
    default_code = "method_not_allowed"


class UpstreamError(GatewayError):
    """The upstream provider failed. ``provider`` names it so the user knows where to look."""

    status = 502
    error_type = "upstream_error"
    default_code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        code: str | None = None,
        param: str | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param)
        self.provider = provider
        self.upstream_status = upstream_status


class UpstreamRejected(UpstreamError):
    """A 4xx from the upstream. The status is passed on so Codex classifies it correctly (§1.7)."""

    error_type = "invalid_request_error"
    default_code = "invalid_prompt"

    @property
    def status_code(self) -> int:
        return self.upstream_status or 400


class ContextLengthExceeded(UpstreamRejected):
    status = 400
    default_code = "context_length_exceeded"

    @property
    def status_code(self) -> int:
        return 400


class UpstreamRateLimited(UpstreamError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float, provider: str = "", code: str | None = None) -> None:
        # Codex only retries a 429 that carries Retry-After in whole seconds (CONTRACT §1.7), and
        # reads "try again in Ns" from a response.failed message (§1.6): both need the delay.
        self.retry_after = max(1, math.ceil(retry_after))
        if not _CODEX_RETRY_HINT.search(message):
            message = f"{message} Please try again in {self.retry_after}s."
        super().__init__(message, provider=provider, code=code, upstream_status=429)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class UpstreamUnavailable(UpstreamError):
    status = 502
    default_code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    default_code = "upstream_timeout"


class FirstByteTimeout(UpstreamTimeout):
    """The upstream accepted the request but sent nothing within the first-byte timeout.

    Not retried: the budget is minutes long (a long prefill), so a retry would multiply a wait the
    user already sat through, and the upstream is likely still working on the first attempt.
    """
