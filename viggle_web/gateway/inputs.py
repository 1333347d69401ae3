"""What an API call sends, read as Viggle reads it: uploads and fetched URLs become gallery
assets, flags and options are checked with Viggle's codes, and ids are looked up for a render."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.db import connection

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.assets.services import UploadRefused, asset_create
from viggle_web.core.netsafety import FetchError, fetch_slot, fetch_to_file
from viggle_web.gateway import errors
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.models import ApiObject
from viggle_web.gateway.selectors import object_resource, objects_visible
from viggle_web.renders.models import RenderJob
from viggle_web.viggle.colour import parse_bg_color

MODELS = tuple(RenderJob.Model.values)
BACKGROUND_MODES = {
    "original": RenderJob.Background.ORIGINAL,
    "inpaint": RenderJob.Background.ORIGINAL,  # documented alias
    "solid": RenderJob.Background.SOLID,
    "transparent": RenderJob.Background.TRANSPARENT,
}
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class MediaInput:
    """One media input of a request: a file field or its *_url twin."""

    field: str
    url_field: str
    upload: UploadedFile | None = None
    url: str | None = None
    too_large: bool = False  # the upload was dropped at the size limit

    @property
    def given(self) -> bool:
        return self.upload is not None or bool(self.url) or self.too_large


def _refusal_code(refused: UploadRefused, kind: str) -> str:
    """Viggle's code for an upload refused by asset_create (judged by content). The video codes
    (CS-ORIV-003/004/007) are for driving videos; a bad image is "failed validation"."""
    if kind == Asset.Kind.VIDEO or refused.code in (errors.FILE_TOO_LARGE, errors.TOO_MANY_PIXELS):
        return refused.code
    return errors.VALIDATION


def _fetch_upload(url: str, field: str, user: User) -> UploadedFile:
    """Fetch a member's URL (guarded: core.netsafety) into a temp-file upload. The request's
    database connection is given back first (a slow URL must not hold one: pages would run
    out), and the fetch takes one of the member's and the process's fetch slots."""
    if not connection.in_atomic_block:
        connection.close()
    upload = TemporaryUploadedFile("download", "application/octet-stream", 0, None)
    try:
        with fetch_slot(member=str(user.pk)):
            result = fetch_to_file(url, upload.file, max_bytes=settings.MAX_UPLOAD_BYTES)
    except FetchError as exc:
        upload.close()
        if exc.too_large:
            raise ApiError(errors.FILE_TOO_LARGE, f"{field}: file larger than the limit")
        if exc.busy:
            raise ApiError(
                errors.RATE_LIMITED,
                f"Could not fetch {field}: {exc.reason}",
                headers={"Retry-After": "5"},
            )
        raise ApiError(errors.VALIDATION, f"Could not fetch {field}: {exc.reason}")
    upload.name = result.filename
    upload.size = result.size
    upload.file.flush()
    upload.seek(0)
    return upload


def _asset_from(
    *,
    user: User,
    media: MediaInput,
    kind: str,
    missing_code: str,
    created: list[Asset] | None = None,
) -> Asset:
    """The gallery asset for a media input (stored once per content). Raises ApiError. A newly
    stored asset is added to ``created`` so the caller can take it back if the request fails."""
    if media.upload is not None and media.url:
        raise ApiError(errors.VALIDATION, f"Send {media.field} or {media.url_field}, not both")
    if media.too_large:
        raise ApiError(errors.FILE_TOO_LARGE, f"{media.field}: file larger than the limit")
    if media.upload is None and not media.url:
        raise ApiError(missing_code, f"{media.field} (or {media.url_field}) is required")
    upload = (
        media.upload
        if media.upload is not None
        else _fetch_upload(media.url or "", media.url_field, user)
    )
    try:
        result = asset_create(user=user, upload=upload)
    except UploadRefused as exc:
        raise ApiError(_refusal_code(exc, kind), f"{media.field}: {exc.reason}")
    finally:
        if media.upload is None:
            upload.close()
    asset = result.asset
    if result.created and created is not None:
        created.append(asset)
    if asset.kind != kind:
        what = (
            "a PNG, JPG or WebP image" if kind == Asset.Kind.IMAGE else "an MP4, MOV or WebM video"
        )
        code = errors.VIDEO_FORMAT if kind == Asset.Kind.VIDEO else errors.VALIDATION
        raise ApiError(code, f"{media.field} must be {what}")
    return asset


def _flag(value: str | None, name: str) -> bool:
    if value is None or not value.strip():
        return False
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ApiError(errors.VALIDATION, f"{name} must be true or false")


def _background(value: str | None) -> str:
    mode = (value or "").strip() or "original"
    if mode not in BACKGROUND_MODES:
        raise ApiError(errors.BAD_BACKGROUND, "Invalid background mode")
    return BACKGROUND_MODES[mode]


def _model(value: str | None) -> str | None:
    model = (value or "").strip() or None
    if model is not None and model not in MODELS:
        raise ApiError(errors.VALIDATION, f"model must be one of {', '.join(MODELS)}")
    return model


def _bg_color(value: str | None) -> str:
    try:
        return parse_bg_color(value)
    except ValueError as exc:
        raise ApiError(errors.VALIDATION, str(exc))


def _mapping(raw: str) -> dict[str, str]:
    try:
        mapping = json.loads(raw)
    except ValueError:
        raise ApiError(errors.BAD_MAPPING, "Invalid character_mapping JSON")
    if (
        not isinstance(mapping, dict)
        or not mapping
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
    ):
        raise ApiError(
            errors.BAD_MAPPING, "character_mapping must map segment ids to character ids"
        )
    return mapping


def _ready(obj: ApiObject) -> bool:
    resource = object_resource(obj)
    return resource is not None and resource.is_ready


def _scene_for_render(user: User, scene_id: str, model: str | None) -> tuple[ApiObject, str]:
    scene = objects_visible(user=user, kind=ApiObject.Kind.SCENE).filter(public_id=scene_id).first()
    if scene is None:
        raise ApiError(errors.NO_SCENE, "Scene not found")
    resource = object_resource(scene)
    if resource is not None and resource.status == ViggleResource.Status.FAILED:
        raise ApiError(errors.NO_SCENE, "Scene preprocessing failed: preprocess it again")
    if not _ready(scene):
        raise ApiError(errors.SCENE_NOT_READY, "Scene preprocessing not complete")
    if scene.model and model is not None and model != scene.model:
        raise ApiError(errors.VALIDATION, f"The scene was preprocessed for {scene.model}")
    return scene, scene.model or model or RenderJob.Model.V4


def _character_for_render(user: User, character_id: str) -> Asset:
    character = (
        objects_visible(user=user, kind=ApiObject.Kind.CHARACTER)
        .filter(public_id=character_id)
        .first()
    )
    if character is None:
        raise ApiError(errors.NO_CHARACTER, "Character not found")
    if not _ready(character):
        raise ApiError(errors.VALIDATION, "Character preprocessing not complete")
    return character.asset
