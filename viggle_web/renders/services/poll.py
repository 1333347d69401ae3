"""Recording what a poll of Viggle said about a job (progress, a final status, an error)."""

from __future__ import annotations

from django.db import transaction

from viggle_web.renders import states
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services.actions import job_cancelled
from viggle_web.renders.services.common import (
    POLL_INTERVAL,
    backoff,
    lease_released,
    lock,
)
from viggle_web.renders.services.finish import job_finish
from viggle_web.renders.services.send import job_fail, job_send
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import ViggleError, human_message
from viggle_web.viggle.types import RenderStatus

S = RenderJob.Status


def job_apply_status(
    *, job_id: int, owner: str, status: RenderStatus | None, error: ViggleError | None
) -> bool:
    """Record one poll's outcome. Returns True when the job now needs its result fetched."""
    with transaction.atomic():
        job = lock(job_id)
        if job.lease_owner != owner or job.status not in (S.QUEUED, S.PROCESSING):
            return False
        polls = job.poll_count + 1
        if error is not None:
            if error.retryable:
                errors = job.upstream_errors + 1
                states.job_transition(
                    job_id,
                    job.status,
                    expect=job.status,
                    holder=owner,
                    fields={
                        "poll_count": polls,
                        "upstream_errors": errors,
                        "retrying": True,
                        **lease_released(backoff(errors)),
                    },
                )
            else:
                job_fail(
                    job,
                    code=error.code or "",
                    message=human_message(error.code, error.message),
                    poll_count=polls,
                )
            return False
        assert status is not None
        seen = {
            "poll_count": polls,
            "retrying": False,
            "upstream_errors": 0,
            "upstream_status": status.status,
            "checkpoint": status.checkpoint or job.checkpoint,
        }
        progress = status.progress_pct or 0
        if status.is_complete:
            if not status.cdn_url:
                # Complete without its URL yet: ask again soon (the streak starts over at 1).
                errors = 1
                states.job_transition(
                    job_id,
                    job.status,
                    expect=job.status,
                    holder=owner,
                    fields={**seen, "upstream_errors": errors, **lease_released(backoff(errors))},
                    progress=progress,
                )
                return False
            states.job_transition(
                job_id,
                S.FINISHING,
                expect=job.status,
                holder=owner,
                fields={
                    **seen,
                    "upstream_cdn_url": status.cdn_url,
                    "upstream_mask_url": status.mask_cdn_url or "",
                },
                progress=100,
            )
            return True
        if status.is_failed:
            fallback = status.error_message or status.error or "Viggle could not render this."
            job_fail(
                job,
                code=status.error_code or "",
                message=human_message(status.error_code, fallback),
                **seen,
            )
            return False
        if status.is_cancelled:
            job_cancelled(job, reason="cancelled upstream", **seen)
            return False
        states.job_transition(
            job_id,
            S.PROCESSING if status.status == "processing" else job.status,
            expect=job.status,
            holder=owner,
            fields={**seen, **lease_released(POLL_INTERVAL)},
            progress=progress,
        )
        return False


def job_poll(*, job_id: int, owner: str) -> None:
    """One unit of poller work on a job this worker has claimed."""
    job = RenderJob.objects.only("status", "upstream_job_id", "submit_started_at").get(pk=job_id)
    if job.status == S.PENDING:
        # A send that never happened (or must be retried): release the poller's lease and send.
        RenderJob.objects.filter(pk=job_id, lease_owner=owner).update(
            lease_until=None, lease_owner=""
        )
        job_send(job_id=job_id, owner=owner)
        return
    if job.status == S.FINISHING:
        job_finish(job_id=job_id, owner=owner)
        return
    try:
        status = get_client().render_status(job.upstream_job_id)
        error = None
    except ViggleError as exc:
        status, error = None, exc
    if job_apply_status(job_id=job_id, owner=owner, status=status, error=error):
        job_finish(job_id=job_id, owner=owner)
