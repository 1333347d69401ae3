"""The rules of the Viggle-compatible API: tokens, and each endpoint's work on top of the app's
own services (asset_create, resource_request, job_submit, job_cancel, budgets).

Everything an API call makes is ordinary app state: uploads and fetched URLs become gallery
assets (deduplicated by content), renders are RenderJob rows with source="api" booked to the
token's member, characters and scenes are the assets' Viggle resources. Upstream ids and URLs
never leave this module's answers: jobs are addressed by RenderJob.public_id, characters and
scenes by ApiObject.public_id, results by signed links to our own copy of the file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.assets.services import (
    AssetActionRefused,
    asset_delete,
    asset_import_template,
    resource_request,
    template_id_parse,
)
from viggle_web.core.netsafety import FetchError, url_check
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
from viggle_web.gateway.inputs import (  # noqa: F401 - callers import MediaInput from here
    BACKGROUND_MODES,
    FALSE,
    MODELS,
    TRUE,
    MediaInput,
    _asset_from,
    _background,
    _bg_color,
    _character_for_render,
    _fetch_upload,
    _flag,
    _mapping,
    _model,
    _ready,
    _refusal_code,
    _scene_for_render,
)
from viggle_web.gateway.models import ApiObject, ApiRender
from viggle_web.gateway.render_send import _send_at_create, render_cancel  # noqa: F401
from viggle_web.gateway.selectors import (  # noqa: F401 - callers import them from here  # noqa: F401 - callers import them from here
    api_mode,
    api_status,
    credits_summary,
    object_get,
    object_resource,
    objects_visible,
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
from viggle_web.renders.services import RenderRequest, job_submit
from viggle_web.usage.services import (
    budget_enforce,
    credit_charge_character,
)
from viggle_web.viggle.errors import ViggleError

# Every character preprocess costs 1 credit at Viggle (viggle-api.md, "Credits").
CHARACTER_CREDITS = 1


# --- inputs -------------------------------------------------------------------------------------


WEBHOOK_EVENTS = ("start", "progress", "completed")


@dataclass(frozen=True)
class WebhookInput:
    """``webhook_url`` and ``webhook_events`` of a request, checked: an address a server-side
    request may go to (core.netsafety), and known events (none given: all of them)."""

    url: str
    events: list[str]


def webhook_parse(url: str | None, events: list[str]) -> WebhookInput | None:
    if not url:
        if any(e.strip() for e in events):
            raise ApiError(errors.VALIDATION, "webhook_events needs a webhook_url")
        return None
    if len(url) > 500:
        raise ApiError(errors.VALIDATION, "webhook_url is longer than 500 characters")
    try:
        checked = url_check(url)
    except FetchError as exc:
        raise ApiError(errors.VALIDATION, f"webhook_url refused: {exc.reason}")
    names = [n.strip() for value in events for n in value.split(",") if n.strip()]
    unknown = sorted(set(names) - set(WEBHOOK_EVENTS))
    if unknown:
        raise ApiError(
            errors.VALIDATION,
            f"Unknown webhook_events: {', '.join(unknown)} (known: {', '.join(WEBHOOK_EVENTS)})",
        )
    return WebhookInput(url=checked, events=[e for e in WEBHOOK_EVENTS if e in names or not names])


def _webhook_fields(webhook: WebhookInput | None) -> dict[str, Any]:
    if webhook is None:
        return {}
    return {"webhook_url": webhook.url, "webhook_events": webhook.events}


# --- characters and scenes ----------------------------------------------------------------------


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
    # A refusal (over budget, an asset that cannot be prepared) is an ApplicationError, which
    # api_endpoint answers through errors.api_error: no translation here.
    resource_request(asset=asset, user=user, model=model)


def character_create(
    *, user: User, name: str | None, image: MediaInput, webhook: WebhookInput | None = None
) -> ApiObject:
    """POST /api/characters/preprocess: the image becomes a gallery asset and a Viggle
    character. Every call books 1 credit to the member (refused over budget), as every call
    costs 1 at Viggle: a script budgets the same against us as against Viggle. When the
    gallery already has the image as a character, that one is reused upstream (no second
    preprocess), and the credit is still booked, under this object's own subject."""
    name = _required_name(name)
    asset = _asset_from(
        user=user, media=image, kind=Asset.Kind.IMAGE, missing_code=errors.NEED_IMAGE
    )
    obj = ApiObject(
        kind=ApiObject.Kind.CHARACTER,
        asset=asset,
        name=name,
        owner=user,
        **_webhook_fields(webhook),
    )
    existing = (
        ViggleResource.objects.filter(asset=asset, kind=ViggleResource.Kind.CHARACTER)
        .exclude(status=ViggleResource.Status.FAILED)
        .exists()
    )
    if not existing:
        _prepare(user=user, asset=asset)  # books the character's credit
        obj.save()
        return obj
    with transaction.atomic():
        budget_enforce(user=user, credits=CHARACTER_CREDITS)
        credit_charge_character(
            user=user,
            subject=f"character:{asset.pk}:api:{obj.public_id}",
            note=f"character of {asset.name} again (through the API; reused upstream)",
        )
        obj.save()
    return obj


def scene_create(
    *,
    user: User,
    name: str | None,
    video: MediaInput,
    model: str | None,
    background_mode: str | None,
    webhook: WebhookInput | None = None,
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
        **_webhook_fields(webhook),
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
    raw_events = body.get("webhook_events") or []
    if isinstance(raw_events, str):
        raw_events = [raw_events]
    if not isinstance(raw_events, list) or not all(isinstance(e, str) for e in raw_events):
        raise ApiError(errors.VALIDATION, "webhook_events must be a list of event names")
    raw_url = body.get("webhook_url")
    if raw_url is not None and not isinstance(raw_url, str):
        raise ApiError(errors.VALIDATION, "webhook_url must be a URL")
    webhook = webhook_parse((raw_url or "").strip() or None, raw_events)
    # Over budget or refused: ApplicationErrors, answered by api_endpoint's one mapping.
    try:
        asset, _created = asset_import_template(user=user, template_id=template_id, name=name)
    except ViggleError as exc:
        raise errors.upstream_error(exc)
    return ApiObject.objects.create(
        kind=ApiObject.Kind.SCENE, asset=asset, name=name, owner=user, **_webhook_fields(webhook)
    )


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
    webhook: WebhookInput | None = None


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
        # The character first: a refused image stores no video.
        character, motion = (
            _asset_from(user=user, media=media, kind=kind, missing_code=code, created=created)
            for media, kind, code in (
                (data.ref_image, Asset.Kind.IMAGE, errors.NEED_IMAGE),
                (data.driving_video, Asset.Kind.VIDEO, errors.NEED_VIDEO),
            )
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
    # Over budget or a refused input: ApplicationErrors, answered by api_endpoint's one mapping.
    with transaction.atomic():
        job = job_submit(
            owner=user,
            idempotency_key=idempotency_key,
            request=request,
            source=RenderJob.Source.API,
        )
        ApiRender.objects.get_or_create(
            job=job, defaults={"mode": mode, **_webhook_fields(data.webhook)}
        )
    return _send_at_create(job)
