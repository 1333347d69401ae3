"""A minimal HTTP/1.1 client connection for asyncio (viggle/status_fetch.py's status GETs):
one request at a time on a kept-alive connection; the response is read by Content-Length,
chunked transfer coding or to the connection's end, and gzip/deflate bodies are decoded. The pool
(``StatusFetcher``) is told through ``_answered_on``, ``_failed_on`` and ``_lost``."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import httpx

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024


class Response:
    __slots__ = ("status", "headers", "body", "keep_alive")

    def __init__(
        self, status: int, headers: list[tuple[str, str]], body: bytes, keep_alive: bool
    ) -> None:
        self.status, self.headers, self.body, self.keep_alive = status, headers, body, keep_alive


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]], dict[str, str], bool]:
    """Status line and headers; raises ValueError when they are not HTTP/1.x."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1 status line: {lines[0][:40]!r}")
    status = int(rest[:3])
    headers: list[tuple[str, str]] = []
    named: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"malformed header line {line[:40]!r}")
        value = value.strip()
        headers.append((name, value))
        named[name.lower()] = value
    connection = named.get("connection", "").lower()
    keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    return status, headers, named, keep_alive


def _dechunk(data: bytes | bytearray) -> bytes | None:
    """A whole chunked body, or None while it is incomplete; ValueError when malformed."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return None
        size = int(bytes(data[pos:end]).split(b";", 1)[0].strip(), 16)
        if size == 0:
            # Trailers (if any) end with an empty line.
            return bytes(out) if data.find(b"\r\n\r\n", end) >= 0 or data[end:] == b"\r\n" else None
        start = end + 2
        if len(data) < start + size + 2:
            return None
        out += data[start : start + size]
        if data[start + size : start + size + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        pos = start + size + 2


class Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection: one request at a time."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.request: Any = None
        self.buf = bytearray()
        self.head: tuple[int, list[tuple[str, str]], dict[str, str], bool] | None = None
        self.body_at = 0
        self.length: int | None = None
        self.chunked = False
        self.closed = False
        self.counted = True  # in the pool's count of open connections
        self.used = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, request: Any, raw: bytes) -> None:
        request.reused = self.used > 0
        self.used += 1
        self.request = request
        self.buf.clear()
        self.head = None
        assert self.transport is not None
        self.transport.write(raw)

    def data_received(self, data: bytes) -> None:
        if self.request is None:
            self.abort()  # nothing was asked: a confused server
            return
        self.buf += data
        try:
            response = self._response(eof=False)
        except ValueError as exc:
            self.pool._failed_on(self, httpx.RemoteProtocolError(str(exc)))
            return
        if response is not None:
            self.pool._answered_on(self, response)

    def _response(self, *, eof: bool) -> Response | None:
        buf = self.buf
        if self.head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise ValueError("response head too long")
                return None
            self.head = _parse_head(bytes(buf[:end]))
            self.body_at = end + 4
            named = self.head[2]
            self.chunked = "chunked" in named.get("transfer-encoding", "").lower()
            length = named.get("content-length")
            self.length = int(length) if length is not None and not self.chunked else None
            if self.head[0] in (204, 304) or 100 <= self.head[0] < 200:
                self.length = 0
        status, headers, named, keep_alive = self.head
        data = buf[self.body_at :]
        if len(data) > MAX_BODY_BYTES:
            raise ValueError("response body too long")
        if self.chunked:
            body = _dechunk(data)
            if body is None:
                if eof:
                    raise ValueError("connection closed inside a chunked body")
                return None
        elif self.length is not None:
            if len(data) < self.length:
                if eof:
                    raise ValueError("connection closed before the whole body")
                return None
            body = bytes(data[: self.length])
        else:  # no length: the body runs to the end of the connection
            if not eof:
                return None
            body, keep_alive = bytes(data), False
        encoding = named.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            body = zlib.decompress(body, 47 if encoding == "gzip" else zlib.MAX_WBITS)
        return Response(status, headers, body, keep_alive)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost says what it meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        request = self.request
        if request is not None and self.buf:
            try:
                response = self._response(eof=True)
            except (ValueError, zlib.error) as error:
                self.pool._failed_on(self, httpx.RemoteProtocolError(str(error)))
                return
            if response is not None:
                self.pool._answered_on(self, response)
                return
        self.pool._lost(self, request)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
