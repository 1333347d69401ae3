"""Writes on render jobs: submit, send upstream, poll, finish, cancel, retry, delete files.

Every transition runs in a transaction on the locked job row and refuses impossible moves, so a
retried task, a second worker or a double click cannot book credits twice or start a second
upstream job. Work on a job is claimed with a lease (a conditional UPDATE): a worker that dies
simply lets its lease run out and another worker picks the job up.
"""

from __future__ import annotations

import logging
import os
import random
import re
import tempfile
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets import media
from viggle_web.assets.models import Asset
from viggle_web.assets.services import asset_upload
from viggle_web.core.audit import audit_record
from viggle_web.core.messages import public_message
from viggle_web.renders import signals
from viggle_web.renders.models import RenderJob
from viggle_web.usage import services as ledger
from viggle_web.usage.services import JobCharge, budget_enforce, credits_for
from viggle_web.viggle import colour
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import AMBIGUOUS, CONNECTION, ViggleError, human_message
from viggle_web.viggle.types import RenderStatus

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "viggle_render_updates"
FIRST_POLL = timedelta(seconds=1)
POLL_INTERVAL = timedelta(seconds=3)
MAX_BACKOFF_SECONDS = 60.0
BG_COLOR_DEFAULT = "0,255,0"


class RenderRefused(ValidationError):
    """Bad input for a render: shown to the member, nothing was written."""


# --- helpers -------------------------------------------------------------------------------------


def notify_job_changed(job: RenderJob) -> None:
    """Wake the live streams. On Postgres, NOTIFY is delivered when the transaction commits;
    on SQLite the streams poll ``updated_at`` instead."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, job.public_id])


def announce_job_changed(job: RenderJob, *, old_status: str) -> None:
    """Send ``signals.job_changed`` once the caller's transaction commits (status or progress)."""
    job_id, new_status, progress = job.pk, job.status, job.progress_pct
    transaction.on_commit(
        lambda: signals.job_changed.send(
            RenderJob,
            job_id=job_id,
            old_status=old_status,
            new_status=new_status,
            progress=progress,
        )
    )


def lease_time() -> timedelta:
    return timedelta(seconds=settings.RENDER_LEASE_SECONDS)


def _charge(job: RenderJob) -> JobCharge:
    return JobCharge(
        job_id=job.pk,
        user=job.owner,
        estimate=job.estimate_credits,
        model=job.model,
        fast=job.fast,
    )


def _backoff(errors: int) -> timedelta:
    base = min(MAX_BACKOFF_SECONDS, 3.0 * (2 ** max(0, errors - 1)))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def _lock(job_id: int) -> RenderJob:
    return RenderJob.objects.select_for_update().select_related("owner").get(pk=job_id)


def _enqueue(func: str, *args: object) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func, *args))


def parse_bg_color(value: str) -> str:
    try:
        return colour.parse_bg_color(value)
    except ValueError:
        raise RenderRefused("The background colour must be three numbers 0-255, like 0,255,0.")


# --- submit ---------------------------------------------------------------------------------------


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
) -> RenderJob:
    """Write the job and its credit reservation in one transaction and send it upstream on
    commit. The same idempotency key returns the same job (double click, browser retry)."""
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
    budget_enforce(user=owner, credits=estimate)
    try:
        with transaction.atomic():
            job = RenderJob.objects.create(
                owner=owner,
                source=source,
                idempotency_key=idempotency_key,
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
    except IntegrityError:
        # Two requests with one key raced: the other one won; return its job.
        return RenderJob.objects.get(idempotency_key=idempotency_key, owner=owner)
    ledger.credit_reserve(charge=_charge(job))
    used = [request.motion.pk] + ([request.character.pk] if request.character else [])
    used += [int(v) for v in mapping.values()]
    Asset.objects.filter(pk__in=set(used)).update(use_count=F("use_count") + 1)
    notify_job_changed(job)
    _enqueue("viggle_web.renders.tasks.job_send", job.pk)
    return job


# --- leases -------------------------------------------------------------------------------------


def _lease_free(now) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def job_claim(*, job_id: int, owner: str, lease: timedelta | None = None) -> bool:
    """Take the job's lease if nobody holds it. Exactly one caller wins."""
    now = timezone.now()
    return (
        RenderJob.objects.filter(_lease_free(now), pk=job_id, status__in=RenderJob.ACTIVE).update(
            lease_until=now + (lease or lease_time()), lease_owner=owner
        )
        == 1
    )


def _release_lease(job: RenderJob, *, next_poll_in: timedelta | None) -> None:
    job.lease_until = None
    job.lease_owner = ""
    job.next_poll_at = timezone.now() + next_poll_in if next_poll_in is not None else None


def poll_claim_due(*, owner: str, limit: int) -> list[int]:
    """Claim up to ``limit`` due active jobs for this worker (skipping rows another worker has
    locked), so two workers never work on one job at the same time."""
    now = timezone.now()
    with transaction.atomic():
        due = (
            RenderJob.objects.filter(_lease_free(now), status__in=RenderJob.ACTIVE)
            .filter(next_poll_at__lte=now)
            .order_by("next_poll_at")
            .values_list("pk", flat=True)
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due[:limit])
        if ids:
            RenderJob.objects.filter(pk__in=ids).update(
                lease_until=now + lease_time(), lease_owner=owner
            )
    return ids


# --- sending upstream -----------------------------------------------------------------------------


def _create_upstream(job: RenderJob):
    """Call POST /api/render with preprocessed ids when the assets have them for the model,
    else streamed uploads of our stored files."""
    client = get_client()
    options = {
        "background_mode": job.background_mode,
        "bg_color": job.bg_color or None,
        "fast": job.fast or None,
    }
    motion = job.motion
    if motion.kind == Asset.Kind.TEMPLATE:
        characters = {
            str(a.pk): a for a in Asset.objects.filter(pk__in=job.character_mapping.values())
        }
        mapping = {
            segment: characters[asset_id].character_id()
            for segment, asset_id in job.character_mapping.items()
            if asset_id in characters and characters[asset_id].character_id()
        }
        scene = motion.scene_id(job.model)
        if mapping:
            return client.render_create(scene_id=scene, character_mapping=mapping, **options)
        return client.render_create(
            scene_id=scene, character_id=job.character.character_id(), **options
        )
    character_id = job.character.character_id()
    scene_id = motion.scene_id(job.model)
    if character_id and scene_id:
        return client.render_create(character_id=character_id, scene_id=scene_id, **options)
    with asset_upload(job.character) as ref, asset_upload(motion) as video:
        return client.render_create(ref_image=ref, driving_video=video, model=job.model, **options)


def job_send(*, job_id: int, owner: str) -> None:
    """Send a pending job to Viggle once. The moment the create call may have gone out is
    recorded first (``submit_started_at``, committed before the call); a worker that finds it
    set without an upstream id does not send again (that could start and bill a second job),
    nor release the credits (Viggle may have charged them): the job needs an admin's attention
    (``job_resolve_send``). So does a create whose answer says nothing about whether it started."""
    if not job_claim(job_id=job_id, owner=owner):
        return
    with transaction.atomic():
        job = _lock(job_id)
        if job.status != RenderJob.Status.PENDING or job.upstream_job_id:
            _release_lease(job, next_poll_in=timedelta(0) if job.is_active else None)
            job.save(update_fields=["lease_until", "lease_owner", "next_poll_at"])
            return
        if job.submit_started_at is not None:
            # The marker was committed, the answer never recorded: the worker died during the
            # create call. Viggle may have started (and charged) the job.
            _needs_attention(job, code=AMBIGUOUS, message=SEND_UNKNOWN_MESSAGE)
            return
        job.submit_started_at = timezone.now()
        job.save(update_fields=["submit_started_at", "updated_at"])
    try:
        created = _create_upstream(job)
    except ViggleError as exc:
        with transaction.atomic():
            job = _lock(job_id)
            if _create_not_started(exc) and job.status == RenderJob.Status.PENDING:
                # Nothing was started upstream (rate limited, unavailable, unreachable): send
                # again later.
                job.submit_started_at = None
                job.retrying = True
                job.upstream_errors += 1
                job.error_message = human_message(exc.code, exc.message)
                _release_lease(job, next_poll_in=_backoff(job.upstream_errors))
                job.save()
                notify_job_changed(job)
            elif job.is_active and _create_maybe_started(exc):
                _needs_attention(job, code=exc.code or AMBIGUOUS, message=SEND_UNKNOWN_MESSAGE)
            elif job.is_active:
                _fail(job, code=exc.code or "", message=human_message(exc.code, exc.message))
        return
    except (OSError, ValueError):
        logger.exception("Render %s could not read its input files", job.public_id)
        with transaction.atomic():
            _fail(
                _lock(job_id),
                code="input",
                message="The input files could not be read: they are missing from storage or "
                "damaged. Upload them again and start a new render.",
            )
        return
    with transaction.atomic():
        job = _lock(job_id)
        job.upstream_job_id = created.job_id
        job.upstream_mode = created.mode or ""
        job.submitted_at = timezone.now()
        job.retrying = False
        job.error_message = ""
        if job.status == RenderJob.Status.CANCELLED:
            # Cancelled while the create call was in flight: stop it upstream too.
            _release_lease(job, next_poll_in=None)
            job.save()
            _cancel_upstream(job)
            return
        job.status = RenderJob.Status.QUEUED
        job.upstream_status = created.status or "queued"
        _release_lease(job, next_poll_in=FIRST_POLL)
        job.save()
        notify_job_changed(job)
        announce_job_changed(job, old_status=RenderJob.Status.PENDING)


def _create_not_started(exc: ViggleError) -> bool:
    """Whether a failed create certainly started no upstream job, so sending again is safe.
    429, 502 and 503 mean the request was turned away before any work; a connection that never
    opened sent nothing. A 500/504 or a connection broken after sending may have started a paid
    job: those are not re-sent (the job needs an admin's attention instead)."""
    if not exc.retryable or exc.code == AMBIGUOUS:
        return False
    return exc.status in (429, 502, 503) or (exc.status is None and exc.code == CONNECTION)


def _create_maybe_started(exc: ViggleError) -> bool:
    """Whether a failed create may have started a paid upstream job. A refusal Viggle explains
    (a 4xx: bad input, no credits) started nothing; so did one it turned away (above)."""
    return exc.code == AMBIGUOUS or (exc.retryable and not _create_not_started(exc))


SEND_UNKNOWN_MESSAGE = (
    "The answer to sending this render to Viggle was lost, so we do not know whether Viggle "
    "started it (and charged for it). It was not sent again and its credits stay reserved "
    "until an admin checks it."
)


def _needs_attention(job: RenderJob, *, code: str, message: str) -> None:
    """Within the caller's transaction, on a locked job: the send's outcome is unknown. Keep the
    reservation, stop all automatic work on it, and show it to admins."""
    job.status = RenderJob.Status.ATTENTION
    job.error_code = code[:32]
    job.error_message = message[:500]
    job.retrying = False
    _release_lease(job, next_poll_in=None)
    job.save()
    notify_job_changed(job)


_UPSTREAM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def job_resolve_send(
    *, job: RenderJob, actor: User, upstream_job_id: str = "", release: bool = False
) -> RenderJob:
    """An admin settles a job whose send outcome was unknown: either link the upstream job
    (found in Viggle's dashboard; checked with Viggle and not already another job's), after
    which it is polled and settled like any other, or release its credits (no job started)."""
    if not actor.is_admin:
        raise RenderRefused("Only an admin can resolve a render that needs attention.")
    upstream_job_id = upstream_job_id.strip()
    if not release:
        if not _UPSTREAM_ID.match(upstream_job_id):
            raise RenderRefused("Enter the job id Viggle shows for this render.")
        if RenderJob.objects.filter(upstream_job_id=upstream_job_id).exclude(pk=job.pk).exists():
            raise RenderRefused("That Viggle job already belongs to another render.")
        try:
            get_client().render_status(upstream_job_id)
        except ViggleError as exc:
            if exc.retryable:
                raise RenderRefused("Viggle could not be asked about that id; try again.")
            raise RenderRefused("Viggle has no render with that id.")
    with transaction.atomic():
        job = _lock(job.pk)
        if job.status != RenderJob.Status.ATTENTION:
            raise RenderRefused("This render does not need attention any more.")
        audit_record(
            actor=actor,
            action="render_send_resolved",
            target=f"render {job.public_id} of {job.owner.username}",
            details={"resolution": "released" if release else "linked"},
        )
        if release:
            _fail(
                job,
                code="released",
                message="An admin found that Viggle did not start this render; its credits "
                "were released.",
            )
            return job
        job.upstream_job_id = upstream_job_id
        job.submitted_at = job.submitted_at or timezone.now()
        job.status = RenderJob.Status.QUEUED
        job.error_code = ""
        job.error_message = ""
        _release_lease(job, next_poll_in=timedelta(0))
        try:
            with transaction.atomic():
                job.save()
        except IntegrityError:
            raise RenderRefused("That Viggle job already belongs to another render.") from None
        notify_job_changed(job)
    return job


def _cancel_upstream(job: RenderJob) -> None:
    try:
        get_client().render_cancel(job.upstream_job_id)
    except ViggleError as exc:
        logger.warning("Cancelling render %s upstream failed: %s", job.public_id, exc.message)


# --- polling ------------------------------------------------------------------------------------


def _fail(job: RenderJob, *, code: str, message: str) -> None:
    """Within the caller's transaction, on a locked job: mark it failed and release credits."""
    old_status = job.status
    job.status = RenderJob.Status.FAILED
    job.error_code = code[:32]
    # Upstream failure texts included: no paths, addresses, traces or upstream ids (anyone can
    # read this through the token-less status endpoint).
    job.error_message = public_message(message, upstream_ids=[job.upstream_job_id or ""])
    job.retrying = False
    job.completed_at = timezone.now()
    _release_lease(job, next_poll_in=None)
    job.save()
    ledger.credit_release(charge=_charge(job), reason=f"failed: {message}")
    notify_job_changed(job)
    announce_job_changed(job, old_status=old_status)


def job_apply_status(
    *, job_id: int, owner: str, status: RenderStatus | None, error: ViggleError | None
) -> bool:
    """Record one poll's outcome. Returns True when the job now needs its result fetched."""
    with transaction.atomic():
        job = _lock(job_id)
        if job.lease_owner != owner or job.status not in (
            RenderJob.Status.QUEUED,
            RenderJob.Status.PROCESSING,
        ):
            return False
        job.poll_count += 1
        old_status, old_progress = job.status, job.progress_pct
        if error is not None:
            if error.retryable:
                job.upstream_errors += 1
                job.retrying = True
                _release_lease(job, next_poll_in=_backoff(job.upstream_errors))
                job.save()
                notify_job_changed(job)
            else:
                _fail(job, code=error.code or "", message=human_message(error.code, error.message))
            return False
        assert status is not None
        job.retrying = False
        job.upstream_errors = 0
        job.upstream_status = status.status
        job.progress_pct = max(job.progress_pct, min(100, status.progress_pct or 0))
        job.checkpoint = status.checkpoint or job.checkpoint
        if status.is_complete:
            if not status.cdn_url:
                job.upstream_errors += 1
                _release_lease(job, next_poll_in=_backoff(job.upstream_errors))
                job.save()
                return False
            job.status = RenderJob.Status.FINISHING
            job.progress_pct = 100
            job.upstream_cdn_url = status.cdn_url
            job.upstream_mask_url = status.mask_cdn_url or ""
            job.save()
            notify_job_changed(job)
            announce_job_changed(job, old_status=old_status)
            return True
        if status.is_failed:
            fallback = status.error_message or status.error or "Viggle could not render this."
            _fail(
                job,
                code=status.error_code or "",
                message=human_message(status.error_code, fallback),
            )
            return False
        if status.is_cancelled:
            _cancelled(job, reason="cancelled upstream")
            return False
        if status.status == "processing":
            job.status = RenderJob.Status.PROCESSING
        _release_lease(job, next_poll_in=POLL_INTERVAL)
        job.save()
        notify_job_changed(job)
        if (job.status, job.progress_pct) != (old_status, old_progress):
            announce_job_changed(job, old_status=old_status)
        return False


def job_poll(*, job_id: int, owner: str) -> None:
    """One unit of poller work on a job this worker has claimed."""
    job = RenderJob.objects.only("status", "upstream_job_id", "submit_started_at").get(pk=job_id)
    if job.status == RenderJob.Status.PENDING:
        # A send that never happened (or must be retried): release the poller's lease and send.
        RenderJob.objects.filter(pk=job_id, lease_owner=owner).update(
            lease_until=None, lease_owner=""
        )
        job_send(job_id=job_id, owner=owner)
        return
    if job.status == RenderJob.Status.FINISHING:
        job_finish(job_id=job_id, owner=owner)
        return
    try:
        status = get_client().render_status(job.upstream_job_id)
        error = None
    except ViggleError as exc:
        status, error = None, exc
    if job_apply_status(job_id=job_id, owner=owner, status=status, error=error):
        job_finish(job_id=job_id, owner=owner)


# --- finishing ----------------------------------------------------------------------------------


def _probe_and_poster(path: str) -> tuple[float, bytes | None]:
    """The result's length, and its poster cut the way the gallery cuts one for a video
    (``assets.media.video_poster``); no poster when no frame decodes."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / 1_000_000
    with open(path, "rb") as source:
        try:
            poster = media.video_poster(source, at_seconds=min(1.0, duration / 3))
        except media.MediaRejected:
            poster = None
    return duration, poster


def job_finish(*, job_id: int, owner: str) -> None:
    """Copy the result (and mask) into our storage at once (upstream URLs expire), cut a poster,
    settle the reservation with the actual seconds. Safe to repeat: a job already complete is
    left alone and the settle entry is unique."""
    from django.core.files.base import ContentFile

    job = RenderJob.objects.get(pk=job_id)
    if job.status != RenderJob.Status.FINISHING or job.lease_owner != owner:
        return
    client = get_client()
    files: dict[str, str] = {}
    try:
        for field, url in (("output", job.upstream_cdn_url), ("mask", job.upstream_mask_url)):
            if not url:
                continue
            handle, path = tempfile.mkstemp(suffix=".mp4", prefix="viggle-result-")
            os.close(handle)
            files[field] = path
            with open(path, "wb") as dest:
                client.download(url, dest)
        seconds, poster = _probe_and_poster(files["output"])
    except (ViggleError, OSError, ValueError) as exc:
        for path in files.values():
            os.unlink(path)
        retryable = isinstance(exc, ViggleError) and exc.retryable
        with transaction.atomic():
            job = _lock(job_id)
            if job.status != RenderJob.Status.FINISHING:
                return
            job.upstream_errors += 1
            if retryable or job.upstream_errors < 5:
                job.retrying = True
                _release_lease(job, next_poll_in=_backoff(job.upstream_errors))
                job.save()
                notify_job_changed(job)
            else:
                _fail(job, code="download", message="The finished video could not be fetched.")
        return
    try:
        with transaction.atomic():
            job = _lock(job_id)
            if job.status != RenderJob.Status.FINISHING:
                return
            for field, path in files.items():
                with open(path, "rb") as handle:
                    getattr(job, field).save(f"{field}.mp4", File(handle), save=False)
            if poster:
                job.poster.save("poster.jpg", ContentFile(poster), save=False)
            job.output_size = os.path.getsize(files["output"])
            job.output_seconds = seconds
            job.status = RenderJob.Status.COMPLETE
            job.retrying = False
            job.completed_at = timezone.now()
            job.progress_pct = 100
            _release_lease(job, next_poll_in=None)
            job.save()
            ledger.credit_settle(charge=_charge(job), output_seconds=seconds)
            notify_job_changed(job)
            announce_job_changed(job, old_status=RenderJob.Status.FINISHING)
            transaction.on_commit(lambda: signals.job_completed.send(RenderJob, job_id=job_id))
    finally:
        for path in files.values():
            os.unlink(path)


# --- member actions -----------------------------------------------------------------------------


def _cancelled(job: RenderJob, *, reason: str) -> None:
    old_status = job.status
    job.status = RenderJob.Status.CANCELLED
    job.retrying = False
    job.completed_at = timezone.now()
    _release_lease(job, next_poll_in=None)
    job.save()
    ledger.credit_release(charge=_charge(job), reason=reason)
    notify_job_changed(job)
    announce_job_changed(job, old_status=old_status)


def job_cancel(*, job: RenderJob, actor: User) -> RenderJob:
    """Cancel a queued or running job: upstream DELETE (refunds upstream), credits released."""
    with transaction.atomic():
        job = _lock(job.pk)
        if not actor.may_manage(job.owner_id):
            raise RenderRefused(
                "Only the member who started this render or an admin can cancel it."
            )
        if not job.is_active:
            raise RenderRefused(f"This render is already {job.get_status_display().lower()}.")
        if job.status == RenderJob.Status.FINISHING:
            raise RenderRefused("This render has finished; its result is being saved.")
        upstream_id = job.upstream_job_id
        _cancelled(job, reason=f"cancelled by {actor.username}")
    if upstream_id:
        _cancel_upstream(job)
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


def job_delete_files(*, job: RenderJob, actor: User) -> RenderJob:
    """Delete a finished job's files (owner or admin); the job row and its ledger entries stay."""
    with transaction.atomic():
        job = _lock(job.pk)
        if not actor.may_manage(job.owner_id):
            raise RenderRefused(
                "Only the member who started this render or an admin can delete it."
            )
        if not job.is_final:
            raise RenderRefused("Cancel the render first; only finished renders can be deleted.")
        names = [f.name for f in (job.output, job.mask, job.poster) if f]
        audit_record(
            actor=actor,
            action="job_files_deleted",
            target=f"render {job.public_id} of {job.owner.username}",
            details={"files": len(names)},
        )
        signals.job_files_deleting.send(RenderJob, job=job, actor=actor)
        job.output = job.mask = job.poster = ""
        job.output_size = 0
        job.save()
        storage = RenderJob._meta.get_field("output").storage

        def remove() -> None:
            for name in names:
                storage.delete(name)

        transaction.on_commit(remove)
        notify_job_changed(job)
    return job
