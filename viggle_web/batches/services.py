"""Writes on batches: submit (all or nothing), cancel all, retry the failed ones.

A batch is checked against the member's and the organisation's monthly budgets as a whole and
written in one transaction: ``budget_enforce`` for the batch's total takes the member row and the
organisation budget row locks first, then each render is written through ``job_submit`` inside the
same transaction (its own check then sees the reservations already made), so a refusal of any
render rolls back every one and nothing is sent upstream (sends are enqueued on commit). Two
members' batches against one organisation budget queue on the organisation row's lock.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django_q.tasks import async_task

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.batches.models import Batch, BatchItem
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services import (
    RenderRequest,
    job_cancel,
    job_rerun,
    job_submit,
    render_estimate,
    submission_create,
)
from viggle_web.usage.services import budget_enforce


def _enqueue(func: str, *args: object) -> None:
    transaction.on_commit(lambda: async_task(func, *args))


def batch_send(*, batch_id: int) -> int:
    """Enqueue the send of every render of the batch (one task each, so the workers share
    them): run by a worker, so the member's request does not wait for a hundred enqueues."""
    jobs = RenderJob.objects.filter(
        batch_item__batch_id=batch_id, status=RenderJob.Status.PENDING
    ).order_by("batch_item__position")
    ids = list(jobs.values_list("pk", flat=True))
    for job_id in ids:
        async_task("viggle_web.renders.tasks.job_send", job_id)
    return len(ids)


class BatchRefused(ValidationError):
    """Bad input for a batch: shown to the member, nothing was written."""


@dataclass(frozen=True)
class BatchOptions:
    """What every render of a batch shares."""

    model: str = RenderJob.Model.V4
    background_mode: str = RenderJob.Background.ORIGINAL
    bg_color: str = ""
    fast: bool = False


def batch_max() -> int:
    return settings.BATCH_MAX_RENDERS


def batch_pairs(*, characters: list[Asset], motions: list[Asset]) -> list[tuple[Asset, Asset]]:
    """Every character with every motion, motion by motion (the grid's order)."""
    return [(character, motion) for motion in motions for character in characters]


@dataclass(frozen=True)
class TemplateCast:
    """One template x several mappings: each character plays ``person`` in its own render."""

    template: Asset
    person: str


def batch_estimate(*, characters: list[Asset], motions: list[Asset], fast: bool) -> int | None:
    """The batch's total estimate; None while a motion's length is not known."""
    if any(not motion.duration_seconds for motion in motions):
        return None
    return len(characters) * sum(render_estimate(motion=m, fast=fast) for m in motions)


def _check_shape(characters: list[Asset], motions: list[Asset]) -> None:
    if not characters:
        raise BatchRefused("Choose at least one character.")
    if not motions:
        raise BatchRefused("Choose at least one motion, or a template and one of its people.")
    count = len(characters) * len(motions)
    if count > batch_max():
        raise BatchRefused(
            f"That is {count} renders; a batch holds at most {batch_max()}. Choose fewer "
            "characters or motions."
        )


@transaction.atomic
def batch_submit(
    *,
    owner: User,
    idempotency_key: str,
    characters: list[Asset],
    motions: list[Asset],
    options: BatchOptions,
    source: str = Batch.Source.WEB,
    cast: TemplateCast | None = None,
) -> Batch:
    """Write every render of the batch and their reservations, or none of them. The same
    idempotency key returns the same batch. With ``cast`` (and no motions) each character plays
    the template's person in a render of its own."""
    existing = Batch.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.owner_id != owner.pk:
            raise BatchRefused("This form was already used; reload the page.")
        return existing
    # A stable, readable order (by name): the grid and the ZIP's numbered names follow it.
    characters = sorted(set(characters), key=lambda a: (a.name.lower(), a.pk))
    motions = sorted(set(motions), key=lambda a: (a.name.lower(), a.pk))
    if cast is not None:
        if motions:
            raise BatchRefused("Choose motions or a template, not both.")
        motions = [cast.template]
    _check_shape(characters, motions)
    total = batch_estimate(characters=characters, motions=motions, fast=options.fast)
    if total is None:
        raise BatchRefused("A motion's length is not known yet; try again in a moment.")
    # submission_create holds the whole batch's total against the budgets at once (it locks
    # the member and organisation rows until commit); its renders (part_of_total) are not
    # checked again.
    batch, created = submission_create(
        Batch,
        owner=owner,
        idempotency_key=idempotency_key,
        source=source,
        estimate_credits=total,
        **asdict(options),
    )
    if not created:
        return batch
    items = []
    for position, (character, motion) in enumerate(
        batch_pairs(characters=characters, motions=motions)
    ):
        job = job_submit(
            owner=owner,
            idempotency_key=f"{batch.public_id}-{position}",
            request=RenderRequest(
                character=None if cast else character,
                motion=motion,
                character_mapping={cast.person: character.pk} if cast else None,
                model=options.model,
                background_mode=options.background_mode,
                bg_color=options.bg_color,
                fast=options.fast,
            ),
            source=source,
            part_of_total=True,  # checked above as a whole; sent by one task below
        )
        items.append(BatchItem(batch=batch, job=job, position=position))
    BatchItem.objects.bulk_create(items)
    _enqueue("viggle_web.batches.tasks.batch_send", batch.pk)
    return batch


def _check_manage(batch: Batch, actor: User) -> None:
    if not actor.may_manage(batch.owner_id):
        raise BatchRefused("Only the member who started this batch or an admin can do that.")


def batch_cancel_all(*, batch: Batch, actor: User) -> int:
    """Cancel every render of the batch that is still queued or running; returns how many."""
    _check_manage(batch, actor)
    cancelled = 0
    jobs = RenderJob.objects.filter(
        batch_item__batch=batch, status__in=[s for s in RenderJob.ACTIVE if s != "finishing"]
    )
    for job in jobs:
        try:
            job_cancel(job=job, actor=actor)
        except ValidationError:
            continue  # finished meanwhile
        cancelled += 1
    return cancelled


@transaction.atomic
def batch_retry_failed(*, batch: Batch, actor: User, idempotency_key: str) -> int:
    """Render each failed item again (new job, new reservation), all or nothing against the
    budgets like the batch itself; the item then shows the new job. Returns how many."""
    _check_manage(batch, actor)
    items = list(
        BatchItem.objects.select_for_update()
        .filter(batch=batch, job__status=RenderJob.Status.FAILED)
        .select_related("job", "job__motion")
    )
    if not items:
        return 0
    total = sum(render_estimate(motion=i.job.motion, fast=i.job.fast) for i in items)
    budget_enforce(user=actor, credits=total)
    for item in items:
        item.job = job_rerun(
            job=item.job, actor=actor, idempotency_key=f"{idempotency_key}-{item.position}"
        )
        item.save(update_fields=["job"])
    return len(items)


def new_key() -> str:
    """A fresh idempotency key for a form."""
    return uuid.uuid4().hex
