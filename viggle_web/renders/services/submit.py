"""Submitting a render: validate the request, estimate, enforce the budgets, write the job with
its reservation in one transaction, send it on commit. A re-run is a new submit."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.renders import states
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services.common import (
    BG_COLOR_DEFAULT,
    RenderRefused,
    enqueue,
    lease_time,
    submission_create,
)
from viggle_web.usage import services as ledger
from viggle_web.usage.services import credits_for
from viggle_web.viggle import colour


def parse_bg_color(value: str) -> str:
    try:
        return colour.parse_bg_color(value)
    except ValueError:
        raise RenderRefused("The background colour must be three numbers 0-255, like 0,255,0.")


@dataclass(frozen=True)
class RenderRequest:
    character: Asset | None
    motion: Asset
    model: str = RenderJob.Model.V4
    background_mode: str = RenderJob.Background.ORIGINAL
    bg_color: str = ""
    fast: bool = False
    # Template scenes: segment id -> character Asset id (partial mapping allowed).
    character_mapping: dict[str, int] | None = None


def render_estimate(*, motion: Asset, fast: bool) -> int:
    return credits_for(motion.duration_seconds or 0, fast=fast)


def _validate(request: RenderRequest) -> dict[str, str]:
    """Check a render request; return the upstream character mapping (segment -> asset id)."""
    motion = request.motion
    if request.model not in RenderJob.Model.values:
        raise RenderRefused("Choose the V4_Preview or V3_Preview model.")
    if request.background_mode not in RenderJob.Background.values:
        raise RenderRefused("Choose original, solid or transparent as the background.")
    if motion.is_archived:
        raise RenderRefused(f"The motion “{motion.name}” was deleted from the gallery.")
    if request.character is not None and request.character.is_archived:
        raise RenderRefused(f"The character “{request.character.name}” was deleted.")
    mapping: dict[str, str] = {}
    if motion.kind == Asset.Kind.TEMPLATE:
        if not motion.scene_id(request.model):
            scene = motion.resource("scene")
            if scene is not None and scene.status == "failed":
                raise RenderRefused(
                    f"The import of the template “{motion.name}” failed: {scene.error_message}"
                )
            raise RenderRefused(f"The template “{motion.name}” is still being imported.")
        segments = {s.get("uuid") for s in motion.segments if isinstance(s, dict)}
        raw = request.character_mapping or {}
        if not raw and request.character is None:
            raise RenderRefused("Choose a character for at least one person in the template.")
        # Locked until the job is written: a delete of one of them waits, then finds the job
        # that uses it and archives the character instead (asset_delete).
        chars = {
            a.pk: a
            for a in Asset.objects.select_for_update()
            .filter(pk__in=raw.values(), kind="image")
            .prefetch_related("viggle_resources")
        }
        for segment, asset_id in raw.items():
            if segment not in segments:
                raise RenderRefused("That person is not in this template.")
            character = chars.get(asset_id)
            if character is None or character.is_archived:
                raise RenderRefused("Each person must be given a character from the gallery.")
            if not character.character_id():
                raise RenderRefused(
                    f"“{character.name}” must be prepared as a Viggle character before it can "
                    "be placed into a template."
                )
            mapping[segment] = str(asset_id)
    else:
        if motion.kind != Asset.Kind.VIDEO:
            raise RenderRefused("The motion must be a video from the gallery.")
        if request.character is None or request.character.kind != Asset.Kind.IMAGE:
            raise RenderRefused("Choose a character image from the gallery.")
        if request.character_mapping:
            raise RenderRefused("Only template scenes take a character mapping.")
    if not motion.duration_seconds:
        raise RenderRefused("The motion's length is not known yet; try again in a moment.")
    return mapping


@transaction.atomic
def job_submit(
    *,
    owner: User,
    idempotency_key: str,
    request: RenderRequest,
    source: str = RenderJob.Source.WEB,
    part_of_total: bool = False,
) -> RenderJob:
    """Write the job and its credit reservation in one transaction and send it upstream on
    commit. The same idempotency key returns the same job (double click, browser retry).

    ``part_of_total``: the caller (a batch) has already run ``budget_enforce`` for a total that
    includes this job, in the same transaction and so under the same locks, and enqueues the
    sends itself; the job is then neither checked again nor enqueued here."""
    existing = RenderJob.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.owner_id != owner.pk:
            raise RenderRefused("This form was already used; reload the page.")
        return existing
    mapping = _validate(request)
    bg_color = ""
    if request.background_mode == RenderJob.Background.SOLID:
        bg_color = parse_bg_color(request.bg_color or BG_COLOR_DEFAULT)
    estimate = render_estimate(motion=request.motion, fast=request.fast)
    job, created = submission_create(
        RenderJob,
        owner=owner,
        idempotency_key=idempotency_key,
        budget_checked=part_of_total,
        source=source,
        character=request.character,
        motion=request.motion,
        character_mapping=mapping,
        model=request.model,
        background_mode=request.background_mode,
        bg_color=bg_color,
        fast=request.fast,
        estimate_credits=estimate,
        estimate_seconds=request.motion.duration_seconds or 0,
        next_poll_at=timezone.now() + lease_time(),
    )
    if not created:
        return job  # two requests with one key raced: the other one won
    ledger.credit_reserve(charge=states.charge_of(job))
    used = [request.motion.pk] + ([request.character.pk] if request.character else [])
    used += [int(v) for v in mapping.values()]
    Asset.objects.filter(pk__in=set(used)).update(use_count=F("use_count") + 1)
    states.notify_job_changed(job)
    if not part_of_total:
        enqueue("viggle_web.renders.tasks.job_send", job.pk)
    return job


def job_rerun(*, job: RenderJob, actor: User, idempotency_key: str, **changes) -> RenderJob:
    """Retry a failed job or render again with one option changed: a new job, new reservation."""
    request = RenderRequest(
        character=job.character,
        motion=job.motion,
        model=changes.get("model", job.model),
        background_mode=changes.get("background_mode", job.background_mode),
        bg_color=changes.get("bg_color", job.bg_color),
        fast=changes.get("fast", job.fast),
        character_mapping={k: int(v) for k, v in job.character_mapping.items()} or None,
    )
    return job_submit(owner=actor, idempotency_key=idempotency_key, request=request)
