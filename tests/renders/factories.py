"""Rows for render tests; files are real (Pillow/PyAV) where a test sends them upstream."""

from __future__ import annotations

import hashlib
import uuid

from django.core.files.base import ContentFile

from viggle_web.assets.models import Asset


def asset_row(*, owner, kind: str = "video", seconds: float = 2.0, name: str = "") -> Asset:
    """An asset row without a file (enough for the ledger and form rules)."""
    digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    return Asset.objects.create(
        kind=kind,
        name=name or f"{kind}-{digest[:6]}",
        sha256=digest,
        uploaded_by=owner,
        duration_seconds=seconds if kind != "image" else None,
        width=160,
        height=120,
    )


def asset_with_file(*, owner, kind: str, path, name: str = "") -> Asset:
    """An asset holding a real media file (made by tests/media_factory.py)."""
    import av

    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    asset = Asset(
        kind=kind,
        name=name or path.stem,
        sha256=digest,
        uploaded_by=owner,
        original_filename=path.name,
        size_bytes=len(data),
    )
    if kind == "video":
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            asset.duration_seconds = float(stream.duration * stream.time_base)
            asset.width, asset.height = stream.width, stream.height
            asset.fps = float(stream.average_rate or 0)
        asset.content_type = "video/mp4"
    else:
        asset.content_type = "image/png"
    asset.file.save(path.name, ContentFile(data), save=False)
    asset.save()
    return asset
