"""The rules of the Viggle-compatible API: tokens, and each endpoint's work on top of the app's
own services (asset_create, resource_request, job_submit, job_cancel, budgets).

Everything an API call makes is ordinary app state: uploads and fetched URLs become gallery
assets (deduplicated by content), renders are RenderJob rows with source="api" booked to the
token's member, characters and scenes are the assets' Viggle resources. Upstream ids and URLs
never leave this module's answers: jobs are addressed by RenderJob.public_id, characters and
scenes by ApiObject.public_id, results by signed links to our own copy of the file.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.assets.services import (
    AssetActionRefused,
    UploadRefused,
    asset_create,
    asset_delete,
    asset_import_template,
    resource_request,
    template_id_parse,
)
from viggle_web.core.netsafety import FetchError, fetch_slot, fetch_to_file
from viggle_web.gateway import errors
from viggle_web.gateway.downloads import (  # noqa: F401 - callers import them from here
    DEFAULT_DOWNLOAD_MAX_AGE,
    DOWNLOAD_SALT,
    Download,
    download_max_age,
    download_open,
    download_sign,
)
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.models import ApiObject, ApiRender
from viggle_web.gateway.selectors import (  # noqa: F401 - callers import them from here
    api_mode,
    api_status,
    credits_summary,
    render_get,
    tokens_all_active,
    tokens_of,
)
from viggle_web.gateway.tokens import (  # noqa: F401 - callers import them from here
    DISPLAY_PREFIX_CHARS,
    LAST_USED_GRANULARITY,
    TOKEN_PREFIX,
    CreatedToken,
    TokenLimitReached,
    token_authenticate,
    token_can_revoke,
    token_create,
    token_hash,
    token_revoke,
    token_revoke_all_on_deactivation,
)
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services import RenderRefused, RenderRequest, job_cancel, job_submit
from viggle_web.usage.services import (
    BudgetExceeded,
    budget_enforce,
    credit_charge_character,
    credit_withdraw_job,
)
from viggle_web.viggle.colour import parse_bg_color
from viggle_web.viggle.errors import ViggleError

MODELS = tuple(RenderJob.Model.values)
BACKGROUND_MODES = {
    "original": RenderJob.Background.ORIGINAL,
    "inpaint": RenderJob.Background.ORIGINAL,  # documented alias
    "solid": RenderJob.Background.SOLID,
    "transparent": RenderJob.Background.TRANSPARENT,
}
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
# Every character preprocess costs 1 credit at Viggle (viggle-api.md, "Credits").
CHARACTER_CREDITS = 1


# --- inputs -------------------------------------------------------------------------------------


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


# --- characters and scenes ----------------------------------------------------------------------


def objects_visible(*, user: User, kind: str) -> QuerySet[ApiObject]:
    """The characters or scenes a member sees through the API: their own (admins: all)."""
    rows = (
        ApiObject.objects.filter(kind=kind)
        .select_related("asset")
        .prefetch_related("asset__viggle_resources")
    )
    return rows if user.is_admin else rows.filter(owner=user)


def object_get(*, user: User, kind: str, public_id: str) -> ApiObject:
    found = objects_visible(user=user, kind=kind).filter(public_id=public_id).first()
    if found is None:
        code = errors.NO_CHARACTER if kind == ApiObject.Kind.CHARACTER else errors.NO_SCENE
        raise ApiError(code, f"{kind.capitalize()} not found", status=404)
    return found


def object_resource(obj: ApiObject) -> ViggleResource | None:
    kind = ViggleResource.Kind.CHARACTER if obj.kind == ApiObject.Kind.CHARACTER else "scene"
    return obj.asset.resource(kind, obj.model)


def object_delete(*, user: User, kind: str, public_id: str) -> None:
    """Forget the API's id for a character or scene (its member or an admin). The gallery
    asset stays: the gallery is shared, and its owner decides about it there."""
    obj = object_get(user=user, kind=kind, public_id=public_id)
    obj.delete()


def _required_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ApiError(errors.VALIDATION, "name is required")
    return name[:200]


def _prepare(*, user: User, asset: Asset, model: str = "") -> None:
    try:
        resource_request(asset=asset, user=user, model=model)
    except BudgetExceeded as exc:
        raise ApiError(errors.BUDGET_EXCEEDED, exc.message)
    except AssetActionRefused as exc:
        raise ApiError(errors.VALIDATION, exc.message)


def character_create(*, user: User, name: str | None, image: MediaInput) -> ApiObject:
    """POST /api/characters/preprocess: the image becomes a gallery asset and a Viggle
    character. Every call books 1 credit to the member (refused over budget), as every call
    costs 1 at Viggle: a script budgets the same against us as against Viggle. When the
    gallery already has the image as a character, that one is reused upstream (no second
    preprocess), and the credit is still booked, under this object's own subject."""
    name = _required_name(name)
    asset = _asset_from(
        user=user, media=image, kind=Asset.Kind.IMAGE, missing_code=errors.NEED_IMAGE
    )
    obj = ApiObject(kind=ApiObject.Kind.CHARACTER, asset=asset, name=name, owner=user)
    existing = (
        ViggleResource.objects.filter(asset=asset, kind=ViggleResource.Kind.CHARACTER)
        .exclude(status=ViggleResource.Status.FAILED)
        .exists()
    )
    if not existing:
        _prepare(user=user, asset=asset)  # books the character's credit
        obj.save()
        return obj
    try:
        with transaction.atomic():
            budget_enforce(user=user, credits=CHARACTER_CREDITS)
            credit_charge_character(
                user=user,
                subject=f"character:{asset.pk}:api:{obj.public_id}",
                note=f"character of {asset.name} again (through the API; reused upstream)",
            )
            obj.save()
    except BudgetExceeded as exc:
        raise ApiError(errors.BUDGET_EXCEEDED, exc.message)
    return obj


def scene_create(
    *,
    user: User,
    name: str | None,
    video: MediaInput,
    model: str | None,
    background_mode: str | None,
) -> ApiObject:
    """POST /api/scenes/preprocess: the video becomes a gallery asset and a Viggle scene bound
    to ``model`` (free)."""
    name = _required_name(name)
    background = _background(background_mode)
    chosen = _model(model) or RenderJob.Model.V4
    asset = _asset_from(
        user=user, media=video, kind=Asset.Kind.VIDEO, missing_code=errors.NEED_VIDEO
    )
    _prepare(user=user, asset=asset, model=chosen)
    return ApiObject.objects.create(
        kind=ApiObject.Kind.SCENE,
        asset=asset,
        model=chosen,
        background_mode=background,
        name=name,
        owner=user,
    )


def scene_import(*, user: User, body: Any) -> ApiObject:
    """POST /api/scenes/import: a viggle.ai template becomes a gallery template asset."""
    if not isinstance(body, dict):
        raise ApiError(errors.VALIDATION, "Body must be a JSON object")
    raw_id = body.get("template_id")
    if not isinstance(raw_id, str):
        raise ApiError(errors.VALIDATION, "template_id must be a template UUID")
    try:
        template_id = template_id_parse(raw_id)  # a viggle.ai link is taken too
    except AssetActionRefused:
        raise ApiError(errors.VALIDATION, "template_id must be a template UUID")
    name = _required_name(str(body.get("name") or ""))
    try:
        asset, _created = asset_import_template(user=user, template_id=template_id, name=name)
    except BudgetExceeded as exc:
        raise ApiError(errors.BUDGET_EXCEEDED, exc.message)
    except AssetActionRefused as exc:
        raise ApiError(errors.VALIDATION, exc.message)
    except ViggleError as exc:
        raise errors.upstream_error(exc)
    return ApiObject.objects.create(kind=ApiObject.Kind.SCENE, asset=asset, name=name, owner=user)


# --- renders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderInput:
    ref_image: MediaInput
    driving_video: MediaInput
    character_id: str | None = None
    scene_id: str | None = None
    character_mapping: str | None = None
    model: str | None = None
    background_mode: str | None = None
    bg_color: str | None = None
    fast: str | None = None
    idempotency_key: str | None = None


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


def render_create(*, user: User, data: RenderInput) -> RenderJob:
    """Start a render from an API request. A refused request changes nothing: files it stored
    on the way (one good upload beside a bad one) are removed again."""
    created: list[Asset] = []
    try:
        return _render_create(user=user, data=data, created=created)
    except ApiError:
        for asset in created:
            # Taking back what this request itself stored: not a member's delete to audit.
            asset_delete(asset=asset, actor=None, audit=False)
        raise


def _render_create(*, user: User, data: RenderInput, created: list[Asset]) -> RenderJob:
    """POST /api/render, with the contract's input combinations and options. The job is an
    ordinary render of the member's (budget checked and booked in job_submit, which refuses
    over budget before any upstream call)."""
    has_ref, has_drv = data.ref_image.given, data.driving_video.given
    character_id = (data.character_id or "").strip() or None
    scene_id = (data.scene_id or "").strip() or None
    mapping_raw = (data.character_mapping or "").strip() or None
    if mapping_raw is not None:
        if has_ref or has_drv or character_id:
            raise ApiError(errors.VALIDATION, "Give exactly one input combination")
        if not scene_id:
            raise ApiError(errors.NEED_VIDEO, "scene_id required with character_mapping")
    elif character_id or scene_id:
        if has_ref or has_drv:
            raise ApiError(errors.VALIDATION, "Give exactly one input combination")
        if not character_id:
            raise ApiError(errors.NEED_IMAGE, "Reference image (or character_id) required")
        if not scene_id:
            raise ApiError(errors.NEED_VIDEO, "Driving video (or scene_id) required")
    else:
        if not has_ref:
            raise ApiError(errors.NEED_IMAGE, "Reference image required")
        if not has_drv:
            raise ApiError(errors.NEED_VIDEO, "Driving video (or scene_id) required")

    model = _model(data.model)
    background = _background(data.background_mode)  # checked now; a scene's may replace it
    bg_color = _bg_color(data.bg_color)
    fast = _flag(data.fast, "fast")
    if fast and not (data.driving_video.upload is not None or scene_id):
        raise ApiError(errors.VALIDATION, "fast needs a driving_video upload or a scene_id")
    mapping = _mapping(mapping_raw) if mapping_raw is not None else None

    character: Asset | None = None
    asset_mapping: dict[str, int] | None = None
    if scene_id:
        scene, model = _scene_for_render(user, scene_id, model)
        motion = scene.asset
        if not (data.background_mode or "").strip() and scene.background_mode:
            # The scene was preprocessed with a background mode: it is the render's default.
            background = scene.background_mode
        if mapping is not None:
            if motion.kind != Asset.Kind.TEMPLATE:
                raise ApiError(errors.BAD_MAPPING, "character_mapping needs an imported template")
            known = {s.get("uuid") for s in motion.segments if isinstance(s, dict)}
            unknown = sorted(set(mapping) - known)
            if unknown:
                raise ApiError(errors.BAD_MAPPING, f"Unknown segment ids: {', '.join(unknown)}")
            asset_mapping = {
                segment: _character_for_render(user, cid).pk for segment, cid in mapping.items()
            }
        else:
            character = _character_for_render(user, character_id or "")
    else:
        character = _asset_from(
            user=user,
            media=data.ref_image,
            kind=Asset.Kind.IMAGE,
            missing_code=errors.NEED_IMAGE,
            created=created,
        )
        motion = _asset_from(
            user=user,
            media=data.driving_video,
            kind=Asset.Kind.VIDEO,
            missing_code=errors.NEED_VIDEO,
            created=created,
        )
        model = model or RenderJob.Model.V4

    key = (data.idempotency_key or "").strip()[:60]
    idempotency_key = f"api:{user.pk}:{key}" if key else f"api:{uuid.uuid4().hex}"
    request = RenderRequest(
        character=character,
        motion=motion,
        model=model,
        background_mode=background,
        bg_color=bg_color if background == RenderJob.Background.SOLID else "",
        fast=fast,
        character_mapping=asset_mapping,
    )
    # What the script asked for, which is what Viggle's `mode` reports (see ApiRender).
    if fast:
        mode = ApiRender.Mode.FAST
    elif scene_id:
        mode = ApiRender.Mode.PREPROCESSED
    else:
        mode = ApiRender.Mode.FULL_PIPELINE
    try:
        with transaction.atomic():
            job = job_submit(
                owner=user,
                idempotency_key=idempotency_key,
                request=request,
                source=RenderJob.Source.API,
            )
            ApiRender.objects.get_or_create(job=job, defaults={"mode": mode})
    except BudgetExceeded as exc:
        raise ApiError(errors.BUDGET_EXCEEDED, exc.message)
    except RenderRefused as exc:
        raise ApiError(errors.VALIDATION, " ".join(exc.messages))
    return _send_at_create(job)


SEND_WAIT_STEP_SECONDS = 0.2


def _send_at_create(job: RenderJob) -> RenderJob:
    """Send a new API render to Viggle now, in the request, through the one send path the
    worker uses (renders.tasks.job_send), so that what only Viggle can say (no fast capacity,
    too few credits on the organisation's account, ...) is answered at create, as Viggle answers
    it. The job and its reservation were committed first, so a crash during the call leaves a
    job the worker recognises (its send marker), never an upstream job we know nothing of.

    - Viggle accepted: the job is queued (and polled by the worker as any other).
    - Viggle refused with a documented code: the job and its ledger entries are removed
      (nothing kept, nothing booked) and the refusal is answered with Viggle's code and status.
    - Viggle was busy or unreachable (429/502/503, no connection): the job stays, the worker
      sends it again later, and the script gets its job id, as for any queued job.
    - A worker took the send first (it was enqueued on commit as for every render): its outcome
      is awaited, at most for the client's upload timeout, then judged the same way."""
    from viggle_web.renders import tasks as render_tasks

    if job.status == RenderJob.Status.PENDING and not job.upstream_job_id:
        render_tasks.job_send(job.pk)
        deadline = time.monotonic() + float(settings.VIGGLE_UPLOAD_TIMEOUT_SECONDS)
        job.refresh_from_db()
        while _send_in_flight(job) and time.monotonic() < deadline:
            time.sleep(SEND_WAIT_STEP_SECONDS)
            job.refresh_from_db()
    refused = (
        job.status == RenderJob.Status.FAILED
        and not job.upstream_job_id
        and job.error_code in errors.VIGGLE_STATUS
    )
    if refused and _withdraw_refused(job):
        code = job.error_code
        raise ApiError(
            code,
            job.error_message or "Viggle refused the render",
            status=errors.VIGGLE_STATUS[code],
            action=errors.UPSTREAM_ACTIONS.get(code),
        )
    return job


def _send_in_flight(job: RenderJob) -> bool:
    """Whether someone (a worker) holds the job's send right now."""
    return (
        job.status == RenderJob.Status.PENDING
        and not job.upstream_job_id
        and job.lease_until is not None
        and job.lease_until > timezone.now()
    )


def _withdraw_refused(job: RenderJob) -> bool:
    """Remove a render that Viggle refused at create (it started and charged nothing), with
    its ledger entries and the use it added to its assets: the script gets Viggle's refusal
    instead of a job. False when the job is no longer such a render."""
    with transaction.atomic():
        locked = (
            RenderJob.objects.select_for_update()
            .filter(pk=job.pk, status=RenderJob.Status.FAILED)
            .filter(Q(upstream_job_id__isnull=True) | Q(upstream_job_id=""))
            .first()
        )
        if locked is None:
            return False
        credit_withdraw_job(job_id=locked.pk)
        used = {locked.motion_id, locked.character_id}
        used |= {int(v) for v in (locked.character_mapping or {}).values()}
        Asset.objects.filter(pk__in=used - {None}).update(use_count=F("use_count") - 1)
        locked.delete()
    return True


def render_cancel(*, user: User, public_id: str) -> RenderJob:
    """DELETE /api/render/{id}: its member or an admin; credits are released."""
    job = RenderJob.objects.filter(public_id=public_id).first()
    if job is None:
        raise ApiError(errors.NOT_FOUND, "Job not found")
    if not user.may_manage(job.owner_id):
        raise ApiError(
            errors.FORBIDDEN, "Only the member who started this job or an admin can cancel it"
        )
    try:
        return job_cancel(job=job, actor=user)
    except RenderRefused:
        job.refresh_from_db()
        raise ApiError(errors.VALIDATION, f"Job cannot be cancelled: it is {api_status(job)}")
