"""Uploads: judged by their content against Viggle's limits before anything is stored; one
asset per content (SHA-256), a duplicate returns (or restores) the existing asset."""

from __future__ import annotations

import hashlib
import logging
import os

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from viggle_web.accounts.models import User
from viggle_web.assets import media
from viggle_web.assets.models import Asset
from viggle_web.assets.services.common import (
    UploadRefused,
    UploadResult,
)

logger = logging.getLogger(__name__)

# --- Uploads -------------------------------------------------------------------------------------


def _display_filename(upload: UploadedFile) -> str:
    return os.path.basename(upload.name or "file").strip()[:255] or "file"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks(chunk_size=1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def asset_create(*, user: User, upload: UploadedFile, name: str = "") -> UploadResult:
    """Validate ``upload`` by content, then store it with its preview, once per content."""
    filename = _display_filename(upload)
    limit = settings.MAX_UPLOAD_BYTES
    if upload.size is None or upload.size > limit:
        raise UploadRefused(
            filename,
            f"it is {_megabytes(upload.size or 0)}; the limit is {_megabytes(limit)}",
            media.FILE_TOO_LARGE,
        )
    if upload.size == 0:
        raise UploadRefused(filename, "it is empty", media.VIDEO_UNREADABLE)

    # A file written by core.uploads.StreamingUploadHandler was hashed while it arrived.
    digest = getattr(upload, "sha256", None) or _sha256(upload)
    existing = _existing(digest)
    if existing is not None:
        return existing

    source: media.Source
    if hasattr(upload, "temporary_file_path"):
        source = upload.temporary_file_path()
        with open(source, "rb") as fh:
            head = fh.read(64)
    else:
        source = upload.file
        source.seek(0)
        head = source.read(64)
    try:
        probe = media.probe(source, head)
        if probe.kind == Asset.Kind.IMAGE:
            preview = media.image_thumbnail(source)
        else:
            preview = media.video_poster(source, at_seconds=min(1.0, probe.duration_seconds / 3))
    except media.MediaRejected as exc:
        raise UploadRefused(filename, exc.reason, exc.code)

    stem = os.path.splitext(filename)[0] or filename
    asset = Asset(
        kind=probe.kind,
        name=(name.strip() or stem)[:200],
        original_filename=filename,
        content_type=probe.content_type,
        sha256=digest,
        size_bytes=upload.size,
        width=probe.width,
        height=probe.height,
        duration_seconds=probe.duration_seconds,
        fps=probe.fps,
        uploaded_by=user,
    )
    saved: list[str] = []
    try:
        with transaction.atomic():
            upload.seek(0)
            asset.file.save(f"upload.{probe.extension}", upload, save=False)
            saved.append(asset.file.name)
            asset.preview.save("preview.jpg", ContentFile(preview), save=False)
            saved.append(asset.preview.name)
            asset.save()
    except IntegrityError:
        # The same content arrived concurrently and won the unique sha256: keep theirs.
        _delete_files(saved)
        found = _existing(digest)
        if found is None:
            raise
        return found
    except BaseException:
        _delete_files(saved)
        raise
    return UploadResult(asset=asset, created=True)


def _existing(digest: str) -> UploadResult | None:
    asset = Asset.objects.filter(sha256=digest).first()
    if asset is None:
        return None
    if asset.archived_at is not None:
        Asset.objects.filter(pk=asset.pk).update(archived_at=None)
        asset.archived_at = None
        return UploadResult(asset=asset, created=False, restored=True)
    return UploadResult(asset=asset, created=False)


def _delete_files(names: list[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)
