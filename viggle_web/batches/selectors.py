"""Reads of batches: the page's grid (one query for the items, one for their jobs with
credits), the summary counts and the files of the ZIP."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils.text import get_valid_filename

from viggle_web.accounts.models import User
from viggle_web.batches import collections
from viggle_web.batches.models import Batch, BatchItem, Collection
from viggle_web.renders.models import RenderJob
from viggle_web.renders.selectors import job_who, jobs_name_casts


def batch_items(batch: Batch) -> list[BatchItem]:
    """The batch's items in grid order, each with its job as the renders pages show it (a
    template render with its cast's names)."""
    items = list(
        BatchItem.objects.filter(batch=batch)
        .order_by("position")
        # The cells show no credits: the jobs without the ledger subquery of jobs_for_display.
        .prefetch_related(
            Prefetch("job", queryset=RenderJob.objects.select_related("character", "motion"))
        )
    )
    jobs_name_casts([item.job for item in items])
    return items


def batch_list(
    *, member: User | None = None, collection: Collection | None = None
) -> QuerySet[Batch]:
    """Batches, newest first; of a collection: those with a render the collection counts (its
    character or motion is in it), as the renders list and the usage split count them."""
    batches = Batch.objects.select_related("owner").order_by("-created_at", "-id")
    if member is not None:
        batches = batches.filter(owner=member)
    if collection is not None:
        jobs = collections.jobs_apply(
            f"{collections.PREFIX}{collection.pk}", RenderJob.objects.all()
        )
        batches = batches.filter(
            Exists(BatchItem.objects.filter(batch=OuterRef("pk"), job__in=jobs))
        )
    return batches


@dataclass(frozen=True)
class BatchSummary:
    total: int
    active: int
    complete: int
    failed: int
    cancelled: int


def batch_summary(items: list[BatchItem]) -> BatchSummary:
    counts = Counter(item.job.status for item in items)
    return BatchSummary(
        total=len(items),
        active=sum(counts[s] for s in RenderJob.ACTIVE) + counts[RenderJob.Status.ATTENTION],
        complete=counts[RenderJob.Status.COMPLETE],
        failed=counts[RenderJob.Status.FAILED],
        cancelled=counts[RenderJob.Status.CANCELLED],
    )


@dataclass(frozen=True)
class ZipEntry:
    name: str
    job: RenderJob


def result_name(item: BatchItem) -> str:
    """A readable, safe file name: position, character and motion ("03_Hero_x_Walk.mp4")."""
    job = item.job
    character = job_who(job)
    stem = get_valid_filename(f"{item.position + 1:02d} {character} x {job.motion.name}")
    return f"{stem[:120]}.mp4"


def batch_zip_entries(batch: Batch) -> list[ZipEntry]:
    """The complete renders of the batch that still have their video, with their ZIP names."""
    items = (
        BatchItem.objects.filter(batch=batch, job__status=RenderJob.Status.COMPLETE)
        .exclude(job__output="")
        .select_related("job__character", "job__motion")
        .order_by("position")
    )
    return [ZipEntry(name=result_name(item), job=item.job) for item in items]
