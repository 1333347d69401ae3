"""Results are assets: a completed render's video is published to the gallery as an ordinary
motion asset (``assets.services.asset_create``, so it is checked, previewed and deduplicated like
an upload) with a ``Result`` row holding its lineage and approval. The gallery learns of results
through its registries (card annotations and "show" filters), never by importing this app."""

from __future__ import annotations

import logging

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django_q.tasks import async_task

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.assets.services import UploadRefused, asset_create
from viggle_web.batches.models import Result
from viggle_web.renders.models import RenderJob
from viggle_web.renders.selectors import job_who

logger = logging.getLogger(__name__)


def result_lineage(job: RenderJob) -> str:
    character = job_who(job)
    speed = "fast" if job.fast else "normal speed"
    return (
        f"{character} × {job.motion.name} · {job.get_model_display()}, "
        f"{job.get_background_mode_display().lower()} background, {speed}"
    )[:300]


def on_job_completed(sender: object, *, job_id: int, **_: object) -> None:
    """renders.signals.job_completed (after commit): publish the result in a worker task."""
    async_task("viggle_web.batches.tasks.result_publish", job_id)


def result_publish(*, job_id: int) -> Result | None:
    """Put a complete render's video into the gallery once; None if it has none (any more)."""
    job = RenderJob.objects.select_related("owner", "character", "motion").get(pk=job_id)
    existing = Result.objects.filter(job=job).first()
    if existing is not None or job.status != RenderJob.Status.COMPLETE or not job.output:
        return existing
    name = result_lineage(job).split(" · ")[0]
    storage = job.output.storage
    with storage.open(job.output.name, "rb") as source:
        upload = UploadedFile(
            file=source,
            name=f"{job.public_id}.mp4",
            content_type="video/mp4",
            size=storage.size(job.output.name),
        )
        try:
            made = asset_create(user=job.owner, upload=upload, name=name)
        except UploadRefused:
            logger.warning("The result of %s could not be put into the gallery", job.public_id)
            return None
    try:
        with transaction.atomic():
            if Result.objects.filter(asset=made.asset).exclude(job=job).exists():
                raise IntegrityError("another render's result")
            result, _ = Result.objects.get_or_create(
                job=job, defaults={"asset": made.asset, "lineage": result_lineage(job)}
            )
    except IntegrityError:
        # The gallery keeps a content once: this video is byte for byte another render's result
        # (the same inputs and options rendered again), which the gallery already shows.
        logger.info("The result of %s is already in the gallery as another render's", job.pk)
        return Result.objects.filter(job=job).first()
    return result


class ResultRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@transaction.atomic
def result_approve_toggle(*, asset: Asset, actor: User) -> bool:
    """Mark a result approved, or withdraw the mark (its render's member or an admin).
    Returns whether it is approved now."""
    result = Result.objects.select_for_update().select_related("job").filter(asset=asset).first()
    if result is None:
        raise ResultRefused("Only a render's result can be approved.")
    if not actor.may_manage(result.job.owner_id):
        raise ResultRefused("Only the member who made this render or an admin can approve it.")
    if result.approved_at is None:
        result.approved_at, result.approved_by = timezone.now(), actor
    else:
        result.approved_at, result.approved_by = None, None
    result.save(update_fields=["approved_at", "approved_by"])
    return result.approved_at is not None


# --- what the gallery shows (registered in BatchesConfig.ready) ----------------------------------


def with_results(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    """Each asset's result facts: ``result_job`` (render public id), ``result_lineage``,
    ``result_approved`` (subqueries: no extra query per card)."""
    result = Result.objects.filter(asset=OuterRef("pk"))
    return assets.annotate(
        result_job=Subquery(result.values("job__public_id")[:1]),
        result_lineage=Subquery(result.values("lineage")[:1]),
        result_approved=Exists(result.filter(approved_at__isnull=False)),
    )


def show_results(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    return assets.filter(Exists(Result.objects.filter(asset=OuterRef("pk"))))


def show_approved(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    return assets.filter(
        Exists(Result.objects.filter(asset=OuterRef("pk"), approved_at__isnull=False))
    )
