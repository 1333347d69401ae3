"""A ZIP written while it is sent: zipfile writes into a sink that the response's generator
empties after every chunk, so memory holds one storage chunk at a time, never the whole set.

Videos are stored, not deflated (MP4 is already compressed). zipfile sees an unseekable file and
writes each member's sizes in a data descriptor after its data, as streaming writers do.
"""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.core.files.storage import Storage
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

CHUNK_BYTES = 1024 * 1024


class _Sink:
    """Write-only, tell-less: zipfile then treats it as a stream."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


@dataclass(frozen=True)
class ZipMember:
    name: str
    storage: Storage
    path: str


def zip_stream(members: Iterable[ZipMember]) -> Iterator[bytes]:
    """Yield the ZIP of ``members`` piece by piece, reading each file from storage in chunks."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for member in members:
            info = zipfile.ZipInfo(member.name)
            info.compress_type = zipfile.ZIP_STORED
            with member.storage.open(member.path, "rb") as source:
                with zf.open(info, mode="w", force_zip64=True) as target:
                    while chunk := source.read(CHUNK_BYTES):
                        target.write(chunk)
                        yield sink.take()
            yield sink.take()
    yield sink.take()


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The same chunks for an ASGI server, each read in a worker thread (Django would otherwise
    collect a sync iterator whole before sending it)."""
    done = object()
    step = sync_to_async(next, thread_sensitive=False)
    while (chunk := await step(chunks, done)) is not done:
        yield chunk  # type: ignore[misc]


def zip_response(
    request: HttpRequest, members: list[ZipMember], filename: str
) -> StreamingHttpResponse:
    chunks = (chunk for chunk in zip_stream(members) if chunk)
    content = _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Accel-Buffering"] = "no"
    return response
