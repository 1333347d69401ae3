"""Hand a large request body to the view while it arrives, instead of after it has arrived.

Django's ASGI handler reads the whole body into a temporary file before any middleware or view
runs (``ASGIHandler.read_body``). For a 400 MB upload that is a full pass over the bytes, on disk,
before the multipart parser starts a second one. Views marked with
``core.uploads.streams_body`` (the gallery's upload and the resumable upload's PATCH) get
a :class:`BodyStream` instead: a file-like object the view's thread reads from as the ASGI
server delivers the body. The multipart parser (or the resumable upload's append) then writes each
chunk once, to its final place, with the size limit and the SHA-256 in the same loop.

How the two sides meet: a pump task on the event loop awaits ``receive()`` and appends the body
chunks to a buffer; the view's thread takes everything buffered at once (one hand-over per batch,
not per 64 KB message). The pump stops while more than ``HIGH_WATER`` bytes wait, so a slow
reader holds at most that much in memory and the server's flow control slows the client. The pump
starts on the first read: a view that never reads the body (a login redirect, a refusal) reads
nothing. A client that goes away mid-body makes ``read`` raise :class:`BodyIncomplete`.

The body limit (viggle_web/bodylimit.py) wraps this handler and still sees every chunk first.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.http import UnreadablePostError
from django.urls import Resolver404, resolve

from viggle_web.bodylimit import Message, Receive, Scope, Send

HIGH_WATER = 8 * 1024 * 1024


class BodyIncomplete(UnreadablePostError):
    """The client went away (or the body limit stopped it) before the body was complete."""


def _streams(scope: Scope) -> bool:
    if scope.get("method") not in ("POST", "PATCH", "PUT"):
        return False
    try:
        match = resolve(scope.get("path") or "/")
    except (Resolver404, ValueError):
        return False
    return bool(getattr(match.func, "streams_body", False))


class BodyStream:
    """A read-only file object over an ASGI request body (see the module docstring)."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        self._cond = threading.Condition()
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._ended = False  # the last body message arrived
        self._aborted = False  # disconnect (or shutdown) before the last message
        self._task: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()  # set by the reader when the buffer went low
        self._done = asyncio.Event()  # the pump finished (ended or aborted)
        self._leftover = b""

    # --- event loop side ----------------------------------------------------------------------

    def _start(self) -> None:
        if self._task is None and not self._done.is_set():
            self._task = self._loop.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                message = await self._receive()
                if message["type"] != "http.request":
                    self._finish(aborted=True)
                    return
                body = message.get("body", b"")
                more = bool(message.get("more_body", False))
                with self._cond:
                    if body:
                        self._chunks.append(body)
                        self._buffered += len(body)
                    if not more:
                        self._ended = True
                    self._cond.notify_all()
                    wait = more and self._buffered > HIGH_WATER
                    if wait:
                        self._drained.clear()
                if not more:
                    self._done.set()
                    return
                if wait:
                    await self._drained.wait()
        except BaseException:
            self._finish(aborted=True)
            raise

    def _finish(self, *, aborted: bool) -> None:
        with self._cond:
            if not self._ended:
                self._aborted = aborted
            self._cond.notify_all()
        self._done.set()

    async def receive_after_body(self) -> Message:
        """What Django's disconnect listener awaits: nothing until the body was read through."""
        await self._done.wait()
        if self._aborted:
            return {"type": "http.disconnect"}
        return await self._receive()

    def shutdown(self) -> None:
        """The request is over: stop the pump and wake a reader still waiting."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._finish(aborted=True)

    # --- the view's thread --------------------------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        data = self._leftover
        self._leftover = b""
        if not data:
            data = self._take()
        if size is not None and 0 <= size < len(data):
            data, self._leftover = data[:size], data[size:]
        elif size is None or size < 0:
            parts = [data]
            while data:
                data = self._take()
                parts.append(data)
            data = b"".join(parts)
        return data

    def _take(self) -> bytes:
        """Everything buffered (waiting for at least one chunk); b"" at the end of the body."""
        with self._cond:
            if self._task is None:
                self._loop.call_soon_threadsafe(self._start)
            while not self._chunks and not self._ended and not self._aborted:
                self._cond.wait()
            if self._chunks:
                chunks, self._chunks = self._chunks, []
                was_high = self._buffered > HIGH_WATER
                self._buffered = 0
                if was_high:
                    self._loop.call_soon_threadsafe(self._drained.set)
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if self._aborted:
                raise BodyIncomplete("The request body ended before it was complete.")
            return b""

    def readline(self, size: int = -1) -> bytes:
        """Up to and including the next newline (Django's parser drains a body with it)."""
        parts: list[bytes] = []
        while True:
            data = self.read(64 * 1024)
            if not data:
                break
            cut = data.find(b"\n")
            if cut >= 0:
                self._leftover = data[cut + 1 :] + self._leftover
                parts.append(data[: cut + 1])
                break
            parts.append(data)
        line = b"".join(parts)
        if size is not None and 0 <= size < len(line):
            line, self._leftover = line[:size], line[size:] + self._leftover
        return line

    def close(self) -> None:
        self._leftover = b""

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


class StreamingBodyASGIHandler(ASGIHandler):
    """Django's ASGI handler, giving views marked ``streams_body`` the body as it arrives."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _streams(scope):
            await super().handle(scope, receive, send)
            return
        stream = BodyStream(receive, asyncio.get_running_loop())
        try:
            await super().handle(scope, stream.receive_after_body, send)
        finally:
            stream.shutdown()

    async def read_body(self, receive: Receive) -> Any:
        stream = getattr(receive, "__self__", None)
        if isinstance(stream, BodyStream):
            return stream
        return await super().read_body(receive)
