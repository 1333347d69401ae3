"""Resumable gallery uploads: the rules of the tus 1.0.0 protocol (core, creation, termination
and checksum extensions; https://tus.io/protocols/resumable-upload). The views in
assets/views.py only translate HTTP to these calls and back.

- ``resumable_create``: Upload-Length is checked against MAX_UPLOAD_BYTES before anything is
  stored; an empty ``<id>.part`` file is made in core.uploads.incoming_dir().
- ``resumable_append``: a chunk is accepted only at the upload's current offset (else
  OffsetMismatch, HTTP 409), never past its length, and written straight into the ``.part`` file
  while its SHA-256 grows (the hasher is kept per process between chunks; another process, or
  this one after a restart, re-reads the bytes so far once). An Upload-Checksum that does not
  match refuses the chunk and truncates the file back: nothing of it is kept. A chunk cut off
  by a dropped connection keeps what arrived (without a checksum to check) so the client
  resumes from there. One chunk at a time per upload (an exclusive ``flock`` on the file).
- the last byte makes the asset through services.asset_create (probe, preview, one asset per
  content), the ``.part`` file renamed into place.
- ``resumable_cleanup``: uploads not touched for a while are removed with their bytes
  (``manage.py upload_cleanup``).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets import services
from viggle_web.assets.models import ResumableUpload
from viggle_web.core.uploads import CHUNK_BYTES, IncomingFile, incoming_dir

logger = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
_KEEP_HASHERS = 64


class ResumableRefused(Exception):
    """A tus request that cannot be honoured; ``status`` is the HTTP answer, ``message`` says
    why in plain words."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class OffsetMismatch(ResumableRefused):
    status = 409


class ChecksumMismatch(ResumableRefused):
    status = 460  # tus checksum extension


@dataclass(frozen=True)
class AppendResult:
    offset: int
    complete: bool


# Per-process SHA-256 state of the bytes so far: upload id -> (offset, hasher).
_hashers: OrderedDict[uuid.UUID, tuple[int, hashlib._Hash]] = OrderedDict()
_hashers_lock = threading.Lock()


def part_path(upload: ResumableUpload) -> Path:
    return incoming_dir() / f"{upload.id}.part"


def parse_metadata(header: str) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated ``key base64value`` pairs."""
    found: dict[str, str] = {}
    for pair in (header or "").split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ResumableRefused(f"Upload-Metadata {key!r} is not base64 UTF-8.")
    return found


def resumable_create(*, user: User, length_header: str, metadata_header: str) -> ResumableUpload:
    if not length_header.strip().isdigit() or len(length_header.strip()) > 18:
        raise ResumableRefused("Upload-Length must be the file's size in bytes.")
    length = int(length_header)
    limit = int(settings.MAX_UPLOAD_BYTES)
    metadata = parse_metadata(metadata_header)
    filename = os.path.basename(metadata.get("filename", "") or "file").strip()[:255] or "file"
    if length > limit:
        raise ResumableRefused(
            services.UploadRefused(
                filename, f"it is larger than {limit / (1024 * 1024):.1f} MB, the limit"
            ).message,
            status=413,
        )
    if length == 0:
        raise ResumableRefused(services.UploadRefused(filename, "it is empty").message)
    upload = ResumableUpload.objects.create(
        id=uuid.uuid4(), owner=user, filename=filename, length=length
    )
    part_path(upload).touch()
    return upload


def resumable_for(*, user: User, upload_id: uuid.UUID) -> ResumableUpload | None:
    """The member's own upload, or None (another member's looks like a missing one)."""
    return ResumableUpload.objects.filter(pk=upload_id, owner=user).first()


def _parse_checksum(header: str) -> tuple[str, bytes] | None:
    if not header:
        return None
    algorithm, _, value = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ResumableRefused(f"Upload-Checksum algorithm {algorithm!r} is not supported.")
    try:
        return algorithm, base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise ResumableRefused("Upload-Checksum is not base64.")


def _hasher_at(upload: ResumableUpload) -> hashlib._Hash:
    """The SHA-256 of the upload's first ``offset`` bytes: kept from the last chunk in this
    process, or read once from the file."""
    with _hashers_lock:
        kept = _hashers.get(upload.id)
    if kept is not None and kept[0] == upload.offset:
        return kept[1].copy()
    digest = hashlib.sha256()
    left = upload.offset
    with part_path(upload).open("rb") as src:
        while left > 0:
            data = src.read(min(CHUNK_BYTES, left))
            if not data:
                break
            digest.update(data)
            left -= len(data)
    return digest


def _keep_hasher(upload_id: uuid.UUID, offset: int, digest: hashlib._Hash) -> None:
    with _hashers_lock:
        _hashers[upload_id] = (offset, digest)
        _hashers.move_to_end(upload_id)
        while len(_hashers) > _KEEP_HASHERS:
            _hashers.popitem(last=False)


def resumable_append(
    *,
    upload: ResumableUpload,
    offset_header: str,
    checksum_header: str,
    content_length: int | None,
    read: Callable[[int], bytes],
    incomplete: type[Exception],
) -> AppendResult:
    """Append one PATCH body (read with ``read(n)``; ``incomplete`` is what it raises when the
    client went away) at the upload's offset. Raises ResumableRefused and its kinds."""
    if upload.completed_at is not None:
        raise OffsetMismatch("This upload is complete.")
    if not offset_header.strip().isdigit() or int(offset_header) != upload.offset:
        raise OffsetMismatch(
            f"Upload-Offset must be {upload.offset}, where this upload stands.",
        )
    left = upload.length - upload.offset
    if content_length is not None and content_length > left:
        raise ResumableRefused("The chunk goes past the upload's length.", status=413)
    checksum = _parse_checksum(checksum_header)
    path = part_path(upload)
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        raise ResumableRefused("This upload's bytes are gone; start it again.", status=410)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OffsetMismatch("Another chunk of this upload is being received.")
        upload.refresh_from_db(fields=["offset", "completed_at"])
        if int(offset_header) != upload.offset or upload.completed_at is not None:
            raise OffsetMismatch(f"Upload-Offset must be {upload.offset}.")
        start = upload.offset
        os.ftruncate(fd, start)  # bytes past the offset are a refused chunk's: never kept
        os.lseek(fd, start, os.SEEK_SET)
        digest = _hasher_at(upload)
        check = hashlib.new(checksum[0]) if checksum else None
        written = 0
        cut_off = False
        try:
            while written < left:
                data = read(min(CHUNK_BYTES, left - written))
                if not data:
                    break
                digest.update(data)
                if check is not None:
                    check.update(data)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                written += len(data)
        except incomplete:
            cut_off = True
        if written >= left and not cut_off and _more_than_declared(read, incomplete):
            os.ftruncate(fd, start)
            raise ResumableRefused("The chunk goes past the upload's length.", status=413)
        if checksum is not None and (cut_off or check.digest() != checksum[1]):
            os.ftruncate(fd, start)
            if cut_off:
                raise ResumableRefused("The chunk did not arrive in full.")
            raise ChecksumMismatch("Upload-Checksum does not match the chunk: it was not kept.")
        new_offset = start + written
        ResumableUpload.objects.filter(pk=upload.pk, offset=start).update(
            offset=new_offset, updated_at=timezone.now()
        )
        upload.offset = new_offset
        _keep_hasher(upload.id, new_offset, digest)
    finally:
        os.close(fd)  # also drops the flock
    if upload.offset == upload.length:
        _complete(upload, digest.hexdigest())
    return AppendResult(offset=upload.offset, complete=upload.offset == upload.length)


def _more_than_declared(read: Callable[[int], bytes], incomplete: type[Exception]) -> bool:
    try:
        return bool(read(1))
    except incomplete:
        return False


def _complete(upload: ResumableUpload, sha256: str) -> None:
    """The last byte arrived: make the asset (or find it) from the .part file, renamed into the
    storage when it is a local directory; record the outcome for the uploader to fetch."""
    with _hashers_lock:
        _hashers.pop(upload.id, None)
    incoming = IncomingFile(
        part_path(upload), name=upload.filename, size=upload.length, sha256=sha256
    )
    fields: dict[str, object] = {"completed_at": timezone.now()}
    try:
        result = services.asset_create(user=upload.owner, upload=incoming)
    except services.UploadRefused as exc:
        fields["refusal"] = exc.message[:500]
    else:
        fields.update(asset=result.asset, created=result.created)
    finally:
        incoming.close()  # removes the .part unless the storage took it
    ResumableUpload.objects.filter(pk=upload.pk).update(**fields)
    for name, value in fields.items():
        setattr(upload, name, value)


def resumable_delete(*, upload: ResumableUpload) -> None:
    """tus termination: the upload and its bytes go."""
    with _hashers_lock:
        _hashers.pop(upload.id, None)
    part_path(upload).unlink(missing_ok=True)
    upload.delete()


def resumable_cleanup(*, older_than: timedelta) -> tuple[int, int]:
    """Remove uploads not touched for ``older_than`` with their bytes, and files left in the
    incoming directory for as long (an upload cut off mid-request by a crash). Returns
    (uploads removed, stray files removed)."""
    cutoff = timezone.now() - older_than
    removed = 0
    for upload in ResumableUpload.objects.filter(updated_at__lt=cutoff).iterator():
        resumable_delete(upload=upload)
        removed += 1
    live = {f"{pk}.part" for pk in ResumableUpload.objects.values_list("pk", flat=True)}
    stray = 0
    for path in incoming_dir().iterdir():
        try:
            old = path.stat().st_mtime < cutoff.timestamp()
        except FileNotFoundError:
            continue
        if path.is_file() and old and path.name not in live:
            path.unlink(missing_ok=True)
            stray += 1
    return removed, stray
