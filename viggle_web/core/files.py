"""The one way a stored file leaves the app: every download and preview (gallery files and
previews, render results, signed API links, exports) is streamed by :func:`serve_file`, after
the calling view's own access check.

It honours a single HTTP ``Range`` (browsers seek in videos with it): ``206`` with the part,
``416`` with ``Content-Range: bytes */size`` when the range cannot be satisfied, including
positions too long to be a real offset; a header that is not a single byte range is ignored
(the whole file, as RFC 9110 allows).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import IO

from django.core.files.storage import Storage, default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# 18 digits is past any file we keep (an exabyte); longer numbers are refused before int().
_MAX_DIGITS = 18
CHUNK = 256 * 1024


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._ -]", "_", name)[:100] or "file"


def _unsatisfiable(size: int) -> HttpResponse:
    response = HttpResponse(status=416)
    response["Content-Range"] = f"bytes */{size}"
    return response


def _read_range(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            data = handle.read(min(CHUNK, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()


def serve_file(
    request: HttpRequest,
    *,
    name: str,
    content_type: str = "",
    filename: str,
    attachment: bool = False,
    cache_control: str = "private, max-age=3600",
    storage: Storage | None = None,
) -> HttpResponse:
    """Stream the stored file ``name``. Raises Http404 when it is missing."""
    storage = storage or default_storage
    try:
        size = storage.size(name)
    except (OSError, FileNotFoundError):
        raise Http404("The file is missing.")
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    match = _RANGE.match(request.headers.get("Range", "").strip())
    start: int | None = None
    end = size - 1
    if match and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
            return _unsatisfiable(size)
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:  # "bytes=-N": the last N bytes
            if int(last) == 0:
                return _unsatisfiable(size)
            start = max(0, size - int(last))
        if start > end or start >= size:
            return _unsatisfiable(size)
    try:
        handle = storage.open(name, "rb")
    except (OSError, FileNotFoundError):
        raise Http404("The file is missing.")
    response: HttpResponse
    if start is not None:
        handle.seek(start)
        response = StreamingHttpResponse(
            _read_range(handle, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = cache_control
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{safe_filename(filename)}"'
    return response
