"""The helper commands' only outbound HTTP: a small blocking client over the standard library.

The commands are one-shot CLI calls, so a blocking client keeps them simple; the gateway's own
aiohttp pool is for serving. Non-2xx answers are returned, not raised (each service words its errors
differently and its module reads them); only a failure to talk at all raises :class:`ServiceError`.

>>> client = HttpClient(timeout=30)
>>> answer = client.send("GET", "https://example.invalid/")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mimo2codex import __version__
from mimo2codex.skills.failure import ServiceError

USER_AGENT = f"mimo2codex/{__version__}"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self, limit: int = 500) -> str:
        return self.body[:limit].decode("utf-8", "replace").strip()


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpClient:
    """``timeout`` bounds the connect and each read (seconds)."""

    def __init__(self, timeout: float = 300.0, *, use_proxy: bool = True) -> None:
        self.timeout = timeout
        self.use_proxy = use_proxy

    def _opener(self, url: str) -> urllib.request.OpenerDirector:
        # A proxy never sits between us and a loopback service (the gateway, a local AUTOMATIC1111).
        if not self.use_proxy or _is_loopback(url):
            return urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return urllib.request.build_opener()

    def _request(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> urllib.request.Request:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ServiceError(f"not an http(s) URL: {url}")
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        return urllib.request.Request(url, data=body, headers=all_headers, method=method)

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        limit: int | None = None,
    ) -> HttpResponse:
        """One request; the whole answer (at most ``limit`` + 1 bytes when given)."""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        with self.open(method, url, body=body, headers=headers) as (status, answer_headers, chunks):
            data = bytearray()
            for chunk in chunks:
                data += chunk
                if limit is not None and len(data) > limit:
                    break
            return HttpResponse(status, bytes(data), answer_headers)

    @contextlib.contextmanager
    def open(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[tuple[int, dict[str, str], Iterator[bytes]]]:
        """``(status, headers, chunks)``: the body arrives as the server sends it (for SSE)."""
        request = self._request(method, url, body, headers)
        try:
            response = self._opener(url).open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            response = exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise ServiceError(f"cannot reach {_origin(url)}: {_reason(exc)}") from exc
        with contextlib.closing(response):
            answer_headers = {k.lower(): v for k, v in response.headers.items()}
            yield response.status, answer_headers, self._chunks(response, url)

    def _chunks(self, response: Any, url: str) -> Iterator[bytes]:
        while True:
            try:
                chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
            except (OSError, http.client.HTTPException) as exc:
                raise ServiceError(f"{_origin(url)} closed the connection mid-answer: {_reason(exc)}") from exc
            if not chunk:
                return
            yield chunk


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, socket.timeout | TimeoutError):
        return "timed out"
    return str(reason) or type(reason).__name__
