"""The one upload size limit for every view that takes files (the gallery, the API for scripts,
the simulator): a handler first in the chain drops a file as soon as it passes the limit, so an
oversized upload is never stored in full (the request body is still read, not kept), and it
remembers which files it dropped so the view can say why."""

from __future__ import annotations

import hashlib
import html
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

# The multipart parser reads (and our handlers write) the body in chunks of this size.
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SkippedFile:
    field: str
    name: str


class SizeLimitUploadHandler(FileUploadHandler):
    """Passes chunks on to the next handler (memory or temp file) until a file is too big."""

    chunk_size = CHUNK_BYTES

    def __init__(self, request: HttpRequest | None = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.skipped: list[SkippedFile] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.skipped.append(SkippedFile(self.field_name or "", self.file_name or "file"))
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file

    @property
    def too_big_names(self) -> list[str]:
        return [skipped.name for skipped in self.skipped]

    @property
    def too_big_fields(self) -> set[str]:
        return {skipped.field for skipped in self.skipped}


def limit_uploads(request: HttpRequest, *, limit: int) -> SizeLimitUploadHandler:
    """Put the limit in front of ``request``'s upload handlers; call it before anything reads
    ``request.POST`` or ``request.FILES``."""
    limiter = SizeLimitUploadHandler(request, limit=limit)
    request.upload_handlers = [limiter, *request.upload_handlers]
    return limiter


def incoming_dir() -> Path:
    """Where an upload is written while it arrives: next to the stored files when the storage
    is a local directory (so keeping it is a rename, not a copy), else the temp directory."""
    if isinstance(default_storage, FileSystemStorage):
        path = Path(default_storage.location) / ".incoming"
    else:
        path = Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path


class IncomingFile(UploadedFile):
    """A file written once into :func:`incoming_dir`, with its SHA-256 computed on the way.
    ``temporary_file_path`` lets FileSystemStorage keep it by a rename. Closing it removes the
    file unless it was moved (kept)."""

    def __init__(
        self, path: Path, *, name: str, content_type: str = "", size: int, sha256: str
    ) -> None:
        super().__init__(path.open("rb"), name, content_type, size, None, None)
        self.path = path
        self.sha256 = sha256

    def temporary_file_path(self) -> str:
        return str(self.path)

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            self.path.unlink(missing_ok=True)


# Writes to disk run here while the request's thread hashes the same bytes: os.write and
# SHA-256 both release the GIL, so the two passes over a chunk overlap instead of adding up.
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload-write")


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Partial:
    """A file being written into incoming_dir; closing it before it is complete removes it.

    One write is in flight at a time (so the file's bytes stay in order): ``write`` waits for the
    previous chunk's write, hands this chunk's to a writer thread and hashes it meanwhile."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(suffix=".upload", dir=incoming_dir())
        self.path = Path(name)
        self.fd = fd
        self.size = 0
        self.digest = hashlib.sha256()
        self._pending: Future[None] | None = None

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # a failed write (disk full) raises here, in the request

    def write(self, data: bytes | memoryview) -> None:
        """Write ``data`` in a writer thread while this thread hashes it."""
        if isinstance(data, memoryview) and not data.readonly:
            data = bytes(data)  # the writer must see these bytes even if the buffer is reused
        self._wait()
        self._pending = _WRITERS.submit(_write_all, self.fd, data)
        self.digest.update(data)
        self.size += len(data)

    def finish(self, *, name: str, content_type: str) -> IncomingFile:
        self._wait()
        os.close(self.fd)
        self.fd = -1
        return IncomingFile(
            self.path,
            name=name,
            content_type=content_type,
            size=self.size,
            sha256=self.digest.hexdigest(),
        )

    def close(self) -> None:
        if self.fd >= 0:
            try:
                self._wait()
            except OSError:
                pass  # removed below anyway
            os.close(self.fd)
            self.fd = -1
            self.path.unlink(missing_ok=True)


def _file_name(sent: str) -> str:
    """A sent file name as Django's own multipart parser keeps it: its last path part, without
    HTML entities or characters that do not print (a NUL would not even reach the database)."""
    name = html.unescape(sent).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable())
    return "" if name in {".", ".."} else name


def _disposition(headers: bytes) -> tuple[str, str | None, str]:
    """(field name, file name or None, content type) of one multipart part's headers."""
    from django.utils.http import parse_header_parameters

    name, filename, content_type = "", None, ""
    for line in headers.decode("utf-8", "replace").split("\r\n"):
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-disposition":
            _, params = parse_header_parameters(value.strip())
            name = params.get("name", "")
            if "filename" in params:
                filename = _file_name(params["filename"])
        elif key == "content-type":
            content_type = value.strip().split(";")[0].strip()
    return name, filename, content_type


class StreamingUploadHandler(SizeLimitUploadHandler):
    """Parses a multipart body itself (``handle_raw_input``) as it arrives, writing each file
    once into :func:`incoming_dir` with its SHA-256 and the size limit in the same loop; the
    files are :class:`IncomingFile` objects carrying ``sha256``. Django's own parser would copy
    every byte through several layers of slices in 64 KB steps; here the body is searched for the
    boundary with ``bytes.find`` over the chunks as they come and written from memoryviews.
    A file over the limit is dropped as soon as it passes it (named in ``too_big_names``)."""

    read_size = 16 * 1024 * 1024

    def __init__(self, request: HttpRequest | None = None, *, limit: int) -> None:
        super().__init__(request, limit=limit)
        self._open: _Partial | None = None

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: bytes,
        encoding: str | None = None,
    ) -> tuple[Any, Any]:
        from django.core.exceptions import TooManyFieldsSent
        from django.http import QueryDict
        from django.http.multipartparser import MultiPartParserError
        from django.utils.datastructures import MultiValueDict

        post = QueryDict(mutable=True, encoding=encoding)
        files = MultiValueDict()
        delim = b"\r\n--" + boundary
        keep = len(delim) + 3
        field_limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**31)
        max_parts = int(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or 1000)
        count = 0
        buf = b"\r\n"  # so that the first boundary looks like every other one

        def more() -> bytes:
            data = input_data.read(self.read_size)
            if not data:
                raise MultiPartParserError("The request body ended inside a multipart part.")
            return data

        try:
            while True:
                # The next delimiter, then either "--" (the end) or the headers of a part.
                while (at := buf.find(delim)) < 0:
                    buf = buf[-keep:] + more()
                buf = buf[at + len(delim) :]
                while len(buf) < 2:
                    buf += more()
                if buf[:2] == b"--":
                    break
                while (end := buf.find(b"\r\n\r\n")) < 0:
                    if len(buf) > 64 * 1024:
                        raise MultiPartParserError("A multipart part's headers are too long.")
                    buf += more()
                name, filename, content_type = _disposition(buf[:end])
                buf = buf[end + 4 :]
                count += 1
                if count > max_parts:
                    raise TooManyFieldsSent("The form has too many fields or files.")
                if filename is None:
                    value, buf = self._read_field(buf, delim, more, field_limit)
                    post.appendlist(name, value.decode(encoding or "utf-8", "replace"))
                    buf = b"\r\n" + buf
                    continue
                self.field_name, self.file_name = name, filename or "file"
                buf, kept = self._read_file(buf, delim, more)
                if kept is not None:
                    files.appendlist(
                        name, kept.finish(name=self.file_name, content_type=content_type)
                    )
                    self._open = None
                buf = b"\r\n" + buf
        except BaseException:
            self.discard()
            for upload in files.values():
                upload.close()
            raise
        post._mutable = False
        return post, files

    def _read_field(
        self, buf: bytes, delim: bytes, more: Callable[[], bytes], limit: int
    ) -> tuple[bytes, bytes]:
        from django.core.exceptions import RequestDataTooBig

        while (at := buf.find(delim)) < 0:
            if len(buf) > limit:
                raise RequestDataTooBig("A form field is too large.")
            buf += more()
        return buf[:at], buf[at:]

    def _read_file(
        self, buf: bytes, delim: bytes, more: Callable[[], bytes]
    ) -> tuple[bytes, _Partial | None]:
        """Write the part's content up to the next delimiter; returns what follows it (starting
        at the delimiter) and the written file, or None if it passed the limit."""
        self._open = _Partial()
        self._size = 0
        tail = len(delim) - 1
        while True:
            at = buf.find(delim)
            cut = at if at >= 0 else max(0, len(buf) - tail)
            self._emit(memoryview(buf)[:cut])
            if at >= 0:
                return buf[at:], self._open
            rest = buf[cut:]
            data = more()
            # The delimiter may straddle the two: look there, then only in the new chunk.
            if (rest + data[:tail]).find(delim) >= 0:
                buf = rest + data
            else:
                self._emit(rest)
                buf = data

    def _emit(self, data: bytes | memoryview) -> None:
        if not data:
            return
        self._size += len(data)
        if self._open is not None and self._size > self.limit:
            self.skipped.append(SkippedFile(self.field_name or "", self.file_name or "file"))
            self._open.close()
            self._open = None
        if self._open is not None:
            self._open.write(data)

    def discard(self) -> None:
        """Remove a file left half-written (the body ended early)."""
        if self._open is not None:
            self._open.close()
            self._open = None


def stream_uploads(request: HttpRequest, *, limit: int) -> StreamingUploadHandler:
    """limit_uploads for views marked ``streams_body``: the multipart body is parsed as it
    arrives and each file written once into its final directory, hashed on the way
    (StreamingUploadHandler). Call it before anything reads ``request.POST``/``FILES``."""
    handler = StreamingUploadHandler(request, limit=limit)
    request.upload_handlers = [handler]
    return handler


ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def accepts_uploads(view: ViewT) -> ViewT:
    """Mark a view whose requests may carry files: the ASGI body limit (viggle_web/bodylimit.py)
    gives it the upload limit instead of the small one."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view


def streams_body(view: ViewT) -> ViewT:
    """Mark an upload view that reads its body as it arrives (viggle_web/streambody.py): no
    spooled copy of the request before the view; implies ``accepts_uploads``."""
    view.streams_body = True  # type: ignore[attr-defined]
    return accepts_uploads(view)
