"""Gallery rows for tests that do not need real files (lists, permissions, queries)."""

from __future__ import annotations

import hashlib
import itertools

from django.core.files.base import ContentFile

from viggle_web.assets.models import Asset

_counter = itertools.count(1)


def make_asset(
    user, *, name: str = "", kind: str = "image", content: bytes | None = None, **fields
):
    """An asset with a small stored file and preview (the bytes are not a real image: views that
    serve files do not look inside them)."""
    n = next(_counter)
    content = content if content is not None else f"asset-{n}".encode() * 50
    asset = Asset(
        kind=kind,
        name=name or f"asset {n}",
        original_filename=f"asset-{n}.png",
        content_type="image/png" if kind == "image" else "video/mp4",
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        width=256,
        height=256,
        uploaded_by=user,
        **fields,
    )
    asset.file.save(
        "upload.png" if kind == "image" else "upload.mp4", ContentFile(content), save=False
    )
    asset.preview.save("preview.jpg", ContentFile(b"jpeg-bytes"), save=False)
    asset.save()
    return asset
