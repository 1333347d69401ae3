"""Signed links to our own copy of a file (results, masks, exports, previews): what a script
downloads instead of an upstream URL."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db.models.fields.files import FieldFile

from viggle_web.assets.models import Asset
from viggle_web.gateway import errors, registry
from viggle_web.gateway.errors import ApiError
from viggle_web.renders.models import RenderJob

DOWNLOAD_SALT = "viggle_web.gateway.download"
DEFAULT_DOWNLOAD_MAX_AGE = 3600


# --- signed downloads ---------------------------------------------------------------------------


def download_max_age() -> int:
    return int(getattr(settings, "GATEWAY_DOWNLOAD_MAX_AGE", DEFAULT_DOWNLOAD_MAX_AGE))


def download_sign(*, kind: str, ident: str | int, which: str) -> str:
    """A token for download_open: "job"/public_id/"output"|"mask" or "asset"/pk/"preview"."""
    return signing.TimestampSigner(salt=DOWNLOAD_SALT).sign(f"{kind}.{ident}.{which}")


@dataclass(frozen=True)
class Download:
    file: FieldFile
    filename: str
    content_type: str


def download_open(*, token: str) -> Download:
    """What a signed link points at. Raises ApiError: 403 when expired, 404 otherwise."""
    signer = signing.TimestampSigner(salt=DOWNLOAD_SALT)
    try:
        value = signer.unsign(token, max_age=download_max_age())
    except signing.SignatureExpired:
        raise ApiError(errors.FORBIDDEN, "This download link has expired: poll the job again")
    except signing.BadSignature:
        raise ApiError(errors.NOT_FOUND, "No such file")
    kind, _, rest = value.partition(".")
    ident, _, which = rest.rpartition(".")
    field: FieldFile | None = None
    name = "file"
    content_type = "application/octet-stream"
    if kind == "job" and which in ("output", "mask"):
        job = RenderJob.objects.filter(public_id=ident).first()
        field = getattr(job, which) if job is not None else None
        name, content_type = f"{ident}-{which}.mp4", "video/mp4"
    elif (target := registry.download_target(kind)) is not None:
        # A kind another app serves (exports: "export"/job public_id/format).
        found = target(ident, which)
        if found is not None:
            field, name, content_type = found
    elif kind == "asset" and which == "preview" and ident.isdigit():
        asset = Asset.objects.filter(pk=int(ident)).first()
        field = asset.preview if asset is not None else None
        name, content_type = f"preview-{ident}.jpg", "image/jpeg"
    if not field:
        raise ApiError(errors.NOT_FOUND, "No such file (it may have been deleted)")
    return Download(file=field, filename=os.path.basename(name), content_type=content_type)
