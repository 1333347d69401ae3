"""Errors Viggle gives at create come at create: an API render is sent in the request, through
the worker's own send, and a documented refusal removes the job with its ledger entries. And a
script's cancel of a render."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.gateway import errors
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.selectors import api_status
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services import RenderRefused, job_cancel
from viggle_web.usage.services import credit_withdraw_job

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
