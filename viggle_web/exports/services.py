"""Writes on alpha exports: ask for one, plan them with a render, make one in the worker, and
react to the render's events (completed, files deleted).

Exports count toward nothing in credits: no ledger entry is ever written here. The result's own
files (video, mask, poster) are only read: a broken mask fails the export, never the render.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.core.messages import public_message
from viggle_web.exports import media
from viggle_web.exports.models import Export
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 0.5


class ExportRefused(ValidationError):
    """The export cannot be asked for; shown to the member, nothing was written."""


class _Abandoned(Exception):
    """The export row was deleted (files deleted) or taken over by another worker."""


def stream_key(job_public_id: str) -> str:
    """The LISTEN/NOTIFY payload (and stream subscription key) for a job's exports."""
    return f"exports:{job_public_id}"


def notify_exports_changed(job_public_id: str) -> None:
    """Wake the job page's exports stream (on commit, like the render's own NOTIFY)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, stream_key(job_public_id)])


def lease_time() -> timedelta:
    return timedelta(seconds=getattr(settings, "EXPORT_LEASE_SECONDS", 120))


def export_timeout() -> int:
    return int(getattr(settings, "EXPORT_TIMEOUT_SECONDS", 3600))


def _enqueue(export_id: int) -> None:
    from django_q.tasks import async_task

    # Longer than the cluster's default timeout: a 5-minute 1080p result takes minutes to encode.
    # If the broker hands the task out again meanwhile (Q_RETRY), the copy finds the export
    # leased (the lease is renewed with every progress step) and returns at once.
    transaction.on_commit(
        lambda: async_task(
            "viggle_web.exports.tasks.export_make", export_id, timeout=export_timeout()
        )
    )


def _check_job(job: RenderJob, actor: User) -> None:
    if not actor.may_manage(job.owner_id):
        raise ExportRefused("Only the member who started this render or an admin can export it.")
    if job.background_mode != RenderJob.Background.TRANSPARENT:
        raise ExportRefused(
            "Only renders with a transparent background come with a mask to make an alpha "
            "export from."
        )


def _parse_format(fmt: str) -> str:
    if fmt not in Export.Format.values:
        raise ExportRefused("Choose webm, mov or png as the export format.")
    return fmt


def _requeue(export: Export, actor: User) -> None:
    export.status = Export.Status.QUEUED
    export.requested_by = actor
    export.progress_pct = 0
    export.error_message = ""
    export.lease_owner = ""
    export.lease_until = None
    export.completed_at = None
    export.save()


@transaction.atomic
def export_request(*, job: RenderJob, actor: User, fmt: str) -> Export:
    """Ask for one alpha export of a complete transparent result (owner or admin). The same
    format asked again returns the existing export; a failed one (or one whose worker died) is
    made again."""
    fmt = _parse_format(fmt)
    # The job row is locked so that a concurrent "delete files" (which deletes the exports
    # with it) is either before this or after it, never in between.
    job = RenderJob.objects.select_for_update().get(pk=job.pk)
    _check_job(job, actor)
    if job.status != RenderJob.Status.COMPLETE:
        raise ExportRefused("The render must be complete before it can be exported.")
    if not job.output:
        raise ExportRefused("The files of this render were deleted.")
    export = Export.objects.select_for_update().filter(job=job, format=fmt).first()
    if export is None:
        export = Export.objects.create(
            job=job, format=fmt, status=Export.Status.QUEUED, requested_by=actor
        )
    elif export.status == Export.Status.FAILED or _stale(export) or _file_lost(export):
        _requeue(export, actor)
    elif export.status == Export.Status.WAITING:
        export.status = Export.Status.QUEUED
        export.save(update_fields=["status", "updated_at"])
    else:
        return export  # already made or being made
    notify_exports_changed(job.public_id)
    _enqueue(export.pk)
    return export


def _file_lost(export: Export) -> bool:
    return export.status == Export.Status.COMPLETE and not export.file


def _stale(export: Export) -> bool:
    return export.status == Export.Status.RUNNING and (
        export.lease_until is None or export.lease_until < timezone.now()
    )


@transaction.atomic
def export_plan(*, job: RenderJob, actor: User, formats: list[str] | None = None) -> list[Export]:
    """The render form's "also make alpha exports": exports that wait for the render and are
    made when it completes (at once if it already has)."""
    job = RenderJob.objects.select_for_update().get(pk=job.pk)
    _check_job(job, actor)
    if job.is_final and job.status != RenderJob.Status.COMPLETE:
        raise ExportRefused("This render did not complete; there is nothing to export.")
    planned = []
    for fmt in formats or list(Export.Format.values):
        fmt = _parse_format(fmt)
        if job.status == RenderJob.Status.COMPLETE:
            planned.append(export_request(job=job, actor=actor, fmt=fmt))
            continue
        try:
            with transaction.atomic():
                export, _ = Export.objects.get_or_create(
                    job=job,
                    format=fmt,
                    defaults={"status": Export.Status.WAITING, "requested_by": actor},
                )
        except IntegrityError:
            export = Export.objects.get(job=job, format=fmt)
        planned.append(export)
    notify_exports_changed(job.public_id)
    return planned


# --- reacting to the render (signals from viggle_web.renders.signals) ----------------------------


def on_job_submitted(
    sender: object, *, job: RenderJob, actor: User, options: dict[str, object], **kwargs: object
) -> None:
    """The render form started a job (renders.signals.job_submitted): plan the alpha exports the
    member ticked ("also make alpha exports"), as waiting exports."""
    if options.get("alpha_exports"):
        export_plan(job=job, actor=actor)


def on_job_completed(sender: object, *, job_id: int, **kwargs: object) -> None:
    """The render is complete (sent after its commit): start the exports that waited for it."""
    with transaction.atomic():
        waiting = list(
            Export.objects.select_for_update()
            .filter(job_id=job_id, status=Export.Status.WAITING)
            .select_related("job")
        )
        if not waiting:
            return
        Export.objects.filter(pk__in=[e.pk for e in waiting]).update(
            status=Export.Status.QUEUED, updated_at=timezone.now()
        )
        for export in waiting:
            _enqueue(export.pk)
        notify_exports_changed(waiting[0].job.public_id)


def on_job_files_deleting(sender: object, *, job: RenderJob, **kwargs: object) -> None:
    """The result's files are being deleted (inside that transaction): the exports go too, their
    files once it commits. Rows are locked first, so an export being saved right now finishes
    (and its file is seen here) before it is deleted."""
    exports = list(Export.objects.select_for_update().filter(job_id=job.pk))
    names = [f.name for e in exports for f in (e.file, e.still) if f]
    Export.objects.filter(pk__in=[e.pk for e in exports]).delete()
    storage = Export._meta.get_field("file").storage

    def remove() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(remove)
    notify_exports_changed(job.public_id)


# --- making one (the worker) ----------------------------------------------------------------------


def export_claim(*, export_id: int, owner: str) -> bool:
    """Take the export if it is queued, or running under a lease that ran out (its worker died).
    Exactly one caller wins."""
    now = timezone.now()
    free = Q(status=Export.Status.QUEUED) | Q(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), status=Export.Status.RUNNING
    )
    return (
        Export.objects.filter(free, pk=export_id).update(
            status=Export.Status.RUNNING,
            lease_owner=owner,
            lease_until=now + lease_time(),
            started_at=now,
            progress_pct=0,
            error_message="",
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        == 1
    )


def _mine(export_id: int, owner: str):
    return Export.objects.filter(pk=export_id, lease_owner=owner, status=Export.Status.RUNNING)


def _fail(*, export_id: int, owner: str, reason: str, job_public_id: str) -> None:
    """Store the export as failed; ``reason`` goes through public_message (a decoder's or an
    encoder's text may carry a path)."""
    with transaction.atomic():
        _mine(export_id, owner).update(
            status=Export.Status.FAILED,
            error_message=public_message(reason),
            lease_owner="",
            lease_until=None,
            completed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        notify_exports_changed(job_public_id)


class _ProgressReporter:
    """Records progress (and renews the lease) at most twice a second."""

    def __init__(self, *, export_id: int, owner: str, job_public_id: str) -> None:
        self.export_id = export_id
        self.owner = owner
        self.job_public_id = job_public_id
        self.last_pct = -1
        self.last_time = 0.0

    def __call__(self, done: int, total: int) -> None:
        pct = min(99, int(done * 100 / max(total, 1)))
        now = time.monotonic()
        if pct == self.last_pct or now - self.last_time < PROGRESS_EVERY_SECONDS:
            return
        self.last_pct, self.last_time = pct, now
        with transaction.atomic():
            updated = _mine(self.export_id, self.owner).update(
                progress_pct=pct,
                lease_until=timezone.now() + lease_time(),
                updated_at=timezone.now(),
            )
            if updated != 1:
                raise _Abandoned()
            notify_exports_changed(self.job_public_id)


def export_make(*, export_id: int, owner: str) -> None:
    """Combine the result video and its mask into the export's format (worker). Any problem with
    the mask (missing, unreadable, damaged, too short) fails the export with a plain reason."""
    if not export_claim(export_id=export_id, owner=owner):
        return
    export = Export.objects.select_related("job").get(pk=export_id)
    job = export.job
    pid = job.public_id
    notify_exports_changed(pid)
    fail = {"export_id": export_id, "owner": owner, "job_public_id": pid}
    if not job.output:
        _fail(**fail, reason="The files of this render were deleted.")
        return
    if not job.mask:
        _fail(**fail, reason="This result has no mask video, so it has no transparency to export.")
        return
    handle, out_path = tempfile.mkstemp(prefix="viggle-export-", suffix=f".{export.extension}")
    os.close(handle)
    try:
        try:
            video = job.output.open("rb")
        except OSError:
            _fail(**fail, reason="The result video is missing from storage.")
            return
        try:
            try:
                mask = job.mask.open("rb")
            except OSError:
                _fail(
                    **fail,
                    reason="The mask video is missing from storage, so no transparent export "
                    "can be made. The result itself is unchanged.",
                )
                return
            try:
                result = media.combine(
                    video=video,
                    mask=mask,
                    fmt=export.format,
                    out=out_path,
                    on_progress=_ProgressReporter(
                        export_id=export_id, owner=owner, job_public_id=pid
                    ),
                    threads=int(getattr(settings, "EXPORT_THREADS", 2)),
                )
            finally:
                mask.close()
        finally:
            video.close()
    except _Abandoned:
        return
    except media.MaskBroken as exc:
        _fail(**fail, reason=f"{exc.reason} The result itself is unchanged.")
        return
    except media.ExportFailed as exc:
        _fail(**fail, reason=exc.reason)
        return
    except Exception as exc:  # an encoder refusing, a full disk: say so, never leave it running
        logger.exception("Export %s of %s failed", export.format, pid)
        _fail(**fail, reason=f"The export could not be made ({type(exc).__name__}: {exc})")
        return
    else:
        _save(export_id=export_id, owner=owner, path=out_path, result=result, job_public_id=pid)
    finally:
        os.unlink(out_path)


def _save(
    *, export_id: int, owner: str, path: str, result: media.Result, job_public_id: str
) -> None:
    with transaction.atomic():
        export = _mine(export_id, owner).select_for_update().select_related("job").first()
        if export is None:
            return  # deleted with the result's files, or taken over: keep nothing
        with open(path, "rb") as handle:
            export.file.save(export.filename, File(handle), save=False)
        if result.still_png:
            export.still.save(
                f"{export.job.public_id}-{export.format}-still.png",
                ContentFile(result.still_png),
                save=False,
            )
        export.size = os.path.getsize(path)
        export.frames = result.frames
        export.duration_seconds = result.duration_seconds
        export.width, export.height = result.width, result.height
        export.status = Export.Status.COMPLETE
        export.progress_pct = 100
        export.lease_owner = ""
        export.lease_until = None
        export.completed_at = timezone.now()
        export.save()
        notify_exports_changed(job_public_id)
