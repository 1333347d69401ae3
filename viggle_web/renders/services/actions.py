"""What a member or an admin does to a job: cancel it, delete a finished job's files."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.core.audit import audit_record
from viggle_web.renders import signals, states
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services.common import (
    RenderRefused,
    cancel_upstream,
    lease_released,
    lock,
)


def job_cancelled(job: RenderJob, *, reason: str, **fields: object) -> None:
    """Move a job (as the caller read it) to cancelled, releasing its credits."""
    states.job_transition(
        job.pk,
        RenderJob.Status.CANCELLED,
        expect=job.status,
        fields={
            **fields,
            "retrying": False,
            "completed_at": timezone.now(),
            **lease_released(None),
        },
        reason=reason,
    )


def _lock_managed(job: RenderJob, actor: User, action: str) -> RenderJob:
    """The job's row, locked, for an action only its owner or an admin may take."""
    job = lock(job.pk)
    if not actor.may_manage(job.owner_id):
        raise RenderRefused(f"Only the member who started this render or an admin can {action} it.")
    return job


def job_cancel(*, job: RenderJob, actor: User) -> RenderJob:
    """Cancel a queued or running job: upstream DELETE (refunds upstream), credits released."""
    with transaction.atomic():
        job = _lock_managed(job, actor, "cancel")
        if not job.is_active:
            raise RenderRefused(f"This render is already {job.get_status_display().lower()}.")
        if job.status == RenderJob.Status.FINISHING:
            raise RenderRefused("This render has finished; its result is being saved.")
        upstream_id = job.upstream_job_id
        job_cancelled(job, reason=f"cancelled by {actor.username}")
        job.refresh_from_db()
    if upstream_id:
        cancel_upstream(job)
    return job


def job_delete_files(*, job: RenderJob, actor: User) -> RenderJob:
    """Delete a finished job's files (owner or admin); the job row and its ledger entries stay."""
    with transaction.atomic():
        job = _lock_managed(job, actor, "delete")
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
        states.notify_job_changed(job)
    return job
