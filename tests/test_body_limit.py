"""The body limit on a real socket: a 413 the client reads, even while it is still sending.

The in-process transport buffers the whole body, so only a live server shows what a client sees
when the gateway answers before the upload has ended (a reset used to throw the 413 away).
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import StartGateway, StartUpstream
from tests.live import LiveGateway, upstream_settings

pytestmark = pytest.mark.live

LIMIT = 64 << 20
UPLOAD = 70 << 20
PIECE = 1 << 20


@pytest.fixture
def gateway(start_upstream: StartUpstream, start_gateway: StartGateway) -> LiveGateway:
    upstream = start_upstream()
    return start_gateway(upstream_settings(upstream, MIMO2CODEX_MAX_BODY=str(LIMIT)))


def _head(framing: str, *, connection: str = "close", extra: str = "") -> bytes:
    return (
        "POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Connection: {connection}\r\n{framing}\r\n{extra}\r\n"
    ).encode()


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response to its end (the gateway closes the connection after a 413)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def _assert_openai_413(body: bytes) -> None:
    error = orjson.loads(body)["error"]
    assert error["code"] == "request_too_large"
    assert error["type"] == "invalid_request_error"
    assert str(LIMIT) in error["message"]


def _upload(sock: socket.socket, pieces: Iterator[bytes]) -> int:
    sent = 0
    for piece in pieces:
        sock.sendall(piece)  # raises ConnectionResetError if the gateway resets the connection
        sent += len(piece)
    return sent


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_client_still_sending_70mb_reads_the_413(gateway: LiveGateway, framing: str) -> None:
    # Connection: close makes the server close right after its answer: the case that used to reset.
    piece = b"x" * PIECE
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=20) as sock:
        if framing == "chunked":
            sock.sendall(_head("Transfer-Encoding: chunked"))
            pieces = (b"%x\r\n%s\r\n" % (PIECE, piece) for _ in range(UPLOAD // PIECE))
            sent = _upload(sock, pieces)
            sock.sendall(b"0\r\n\r\n")
        else:
            sock.sendall(_head(f"Content-Length: {UPLOAD}"))
            sent = _upload(sock, (piece for _ in range(UPLOAD // PIECE)))
        status, headers, body = _read_response(sock)
    assert sent >= UPLOAD
    assert status == 413
    assert headers["connection"] == "close"
    _assert_openai_413(body)


def test_httpx_streaming_upload_reads_the_413(gateway: LiveGateway) -> None:
    def pieces() -> Iterator[bytes]:
        for _ in range(UPLOAD // PIECE):
            yield b"x" * PIECE

    response = httpx.post(
        f"{gateway.url}/responses", content=pieces(), headers={"content-type": "application/json"}, timeout=20
    )
    assert response.status_code == 413
    _assert_openai_413(response.content)


def test_urllib_reads_the_413(gateway: LiveGateway) -> None:
    # urllib always sends Connection: close and reads only after the whole body is out.
    request = urllib.request.Request(
        f"{gateway.url}/responses", data=b"x" * UPLOAD, headers={"Content-Type": "application/json"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=20)
    assert caught.value.code == 413
    _assert_openai_413(caught.value.read())


def test_a_declared_length_over_the_limit_is_refused_before_the_body(gateway: LiveGateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(_head(f"Content-Length: {UPLOAD}", connection="keep-alive"))
        answer = b""
        while b"}}" not in answer:  # the whole 413 arrives with no body byte sent
            chunk = sock.recv(65536)
            assert chunk, "the gateway closed without a 413"
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    _assert_openai_413(body)


def test_expect_continue_gets_the_413_instead_of_a_go_ahead(gateway: LiveGateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(_head(f"Content-Length: {UPLOAD}", extra="Expect: 100-continue\r\n"))
        status, _, body = _read_response(sock)  # ends: nothing to drain, the connection closes
    assert status == 413
    _assert_openai_413(body)


def test_an_announced_huge_body_is_answered_and_cut_off(gateway: LiveGateway) -> None:
    # Gigabytes announced: not worth reading for half a minute; the 413 is sent and the connection closed.
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(_head(f"Content-Length: {10 * LIMIT}"))
        status, _, body = _read_response(sock)
    assert status == 413
    _assert_openai_413(body)


def test_the_connection_after_a_drained_413_is_closed_cleanly(gateway: LiveGateway) -> None:
    # A chunked body just over the limit: drained to its end, so the close carries no reset.
    small = b"x" * PIECE
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(_head("Transfer-Encoding: chunked", connection="keep-alive"))
        _upload(sock, (b"%x\r\n%s\r\n" % (PIECE, small) for _ in range(LIMIT // PIECE + 2)))
        sock.sendall(b"0\r\n\r\n")
        status, headers, body = _read_response(sock)
    assert (status, headers["connection"]) == (413, "close")
    _assert_openai_413(body)
