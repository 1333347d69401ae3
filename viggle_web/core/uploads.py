"""The one upload size limit for every view that takes files (the gallery, the API for scripts,
the simulator): a handler first in the chain drops a file as soon as it passes the limit, so an
oversized upload is never stored in full (the request body is still read, not kept), and it
remembers which files it dropped so the view can say why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest


@dataclass(frozen=True)
class SkippedFile:
    field: str
    name: str


class SizeLimitUploadHandler(FileUploadHandler):
    """Passes chunks on to the next handler (memory or temp file) until a file is too big."""

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


ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def accepts_uploads(view: ViewT) -> ViewT:
    """Mark a view whose requests may carry files: the ASGI body limit (viggle_web/bodylimit.py)
    gives it the upload limit instead of the small one."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view
