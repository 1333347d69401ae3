"""Sending a pending render to Viggle, once, and settling a send whose outcome is unknown."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.assets.services import asset_upload
from viggle_web.core.audit import audit_record
from viggle_web.core.messages import public_message
from viggle_web.renders import states
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services.common import (
    FIRST_POLL,
    RenderRefused,
    backoff,
    cancel_upstream,
    job_claim,
    lease_released,
    lock,
)
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import AMBIGUOUS, CONNECTION, ViggleError, human_message

logger = logging.getLogger(__name__)

S = RenderJob.Status

SEND_UNKNOWN_MESSAGE = (
    "The answer to sending this render to Viggle was lost, so we do not know whether Viggle "
    "started it (and charged for it). It was not sent again and its credits stay reserved "
    "until an admin checks it."
)


def job_fail(job: RenderJob, *, code: str, message: str, **fields: object) -> None:
    """Move a job (as the caller read it) to failed, releasing its credits. Upstream failure
    texts included, the message is made public-safe: no paths, addresses, traces or upstream
    ids (anyone can read it through the token-less status endpoint)."""
    safe = public_message(message, upstream_ids=[job.upstream_job_id or ""])
    states.job_transition(
        job.pk,
        S.FAILED,
        expect=job.status,
        fields={**fields, **_stopped(code, safe), "completed_at": timezone.now()},
        reason=f"failed: {message}",
    )


def _stopped(code: str, message: str) -> dict[str, object]:
    """The columns of a job no worker works on any more: why, and no lease or next poll."""
    return {
        "error_code": code[:32],
        "error_message": message,
        "retrying": False,
        **lease_released(None),
    }


def _needs_attention(job: RenderJob, *, code: str) -> None:
    """The send's outcome is unknown: keep the reservation, stop all automatic work on the job,
    and show it to admins."""
    states.job_transition(
        job.pk, S.ATTENTION, expect=S.PENDING, fields=_stopped(code, SEND_UNKNOWN_MESSAGE)
    )


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
        job = lock(job_id)
        if job.status != S.PENDING or job.upstream_job_id:
            # Not ours to send (any more): give the lease back, nothing else changes.
            RenderJob.objects.filter(pk=job_id).update(
                **lease_released(timedelta(0) if job.is_active else None)
            )
            return
        if job.submit_started_at is not None:
            # The marker was committed, the answer never recorded: the worker died during the
            # create call. Viggle may have started (and charged) the job.
            _needs_attention(job, code=AMBIGUOUS)
            return
        RenderJob.objects.filter(pk=job_id, status=S.PENDING).update(
            submit_started_at=timezone.now(), updated_at=timezone.now()
        )
    try:
        created = _create_upstream(job)
    except ViggleError as exc:
        with transaction.atomic():
            job = lock(job_id)
            if _create_not_started(exc) and job.status == S.PENDING:
                # Nothing was started upstream (rate limited, unavailable, unreachable): send
                # again later.
                errors = job.upstream_errors + 1
                states.job_transition(
                    job_id,
                    S.PENDING,
                    expect=S.PENDING,
                    fields={
                        "submit_started_at": None,
                        "retrying": True,
                        "upstream_errors": errors,
                        "error_message": human_message(exc.code, exc.message),
                        **lease_released(backoff(errors)),
                    },
                )
            elif job.is_active and _create_maybe_started(exc):
                _needs_attention(job, code=exc.code or AMBIGUOUS)
            elif job.is_active:
                job_fail(job, code=exc.code or "", message=human_message(exc.code, exc.message))
        return
    except (OSError, ValueError):
        logger.exception("Render %s could not read its input files", job.public_id)
        with transaction.atomic():
            job_fail(
                lock(job_id),
                code="input",
                message="The input files could not be read: they are missing from storage or "
                "damaged. Upload them again and start a new render.",
            )
        return
    sent = {
        "upstream_job_id": created.job_id,
        "upstream_mode": created.mode or "",
        "submitted_at": timezone.now(),
        "retrying": False,
        "error_message": "",
    }
    with transaction.atomic():
        job = lock(job_id)
        if job.status == S.CANCELLED:
            # Cancelled while the create call was in flight: keep the upstream id (not a
            # change of status) and stop it upstream too.
            RenderJob.objects.filter(pk=job_id, status=S.CANCELLED).update(
                **sent, **lease_released(None), updated_at=timezone.now()
            )
            job.upstream_job_id = created.job_id
            cancel_upstream(job)
            return
        states.job_transition(
            job_id,
            S.QUEUED,
            expect=S.PENDING,
            fields={
                **sent,
                "upstream_status": created.status or "queued",
                **lease_released(FIRST_POLL),
            },
        )


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
        job = lock(job.pk)
        if job.status != S.ATTENTION:
            raise RenderRefused("This render does not need attention any more.")
        audit_record(
            actor=actor,
            action="render_send_resolved",
            target=f"render {job.public_id} of {job.owner.username}",
            details={"resolution": "released" if release else "linked"},
        )
        if release:
            job_fail(
                job,
                code="released",
                message="An admin found that Viggle did not start this render; its credits "
                "were released.",
            )
        else:
            try:
                with transaction.atomic():
                    states.job_transition(
                        job.pk,
                        S.QUEUED,
                        expect=S.ATTENTION,
                        fields={
                            "upstream_job_id": upstream_job_id,
                            "submitted_at": job.submitted_at or timezone.now(),
                            "error_code": "",
                            "error_message": "",
                            **lease_released(timedelta(0)),
                        },
                    )
            except IntegrityError:
                raise RenderRefused("That Viggle job already belongs to another render.") from None
        job.refresh_from_db()
    return job
