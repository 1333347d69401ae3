"""What the render services share: timings, the refusal type, leases and small helpers.

A worker holds a job by its lease (``lease_owner``/``lease_until``), taken with a conditional
UPDATE; status changes go through ``renders.states.job_transition``, never through here.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from viggle_web.core import leases
from viggle_web.core.errors import Refused
from viggle_web.renders.models import RenderJob, Submission
from viggle_web.usage.services import budget_enforce
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import ViggleError

logger = logging.getLogger("viggle_web.renders.services")

FIRST_POLL = timedelta(seconds=1)
POLL_INTERVAL = timedelta(seconds=3)
MAX_BACKOFF_SECONDS = 60.0
BG_COLOR_DEFAULT = "0,255,0"


class RenderRefused(Refused, ValidationError):
    """Bad input for a render, or a move its state does not allow: shown to the member, nothing
    was written. Also a ValidationError, so form code that catches those shows it as one."""

    default_code = "render_refused"


def lease_time() -> timedelta:
    return timedelta(seconds=settings.RENDER_LEASE_SECONDS)


def backoff(errors: int) -> timedelta:
    base = min(MAX_BACKOFF_SECONDS, 3.0 * (2 ** max(0, errors - 1)))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def lock(job_id: int) -> RenderJob:
    return RenderJob.objects.select_for_update().select_related("owner").get(pk=job_id)


def enqueue(func: str, *args: object) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func, *args))


def lease_released(next_poll_in: timedelta | None) -> dict[str, Any]:
    """The columns that give a job's lease back, with its next poll (None: never again)."""
    return {
        "lease_until": None,
        "lease_owner": "",
        "next_poll_at": timezone.now() + next_poll_in if next_poll_in is not None else None,
    }


def job_claim(*, job_id: int, owner: str, lease: timedelta | None = None) -> bool:
    """Take the job's lease if nobody holds it (core.leases, the one lease): one caller wins."""
    return leases.lease_claim(
        RenderJob.objects.filter(pk=job_id, status__in=RenderJob.ACTIVE),
        owner=owner,
        lease=lease or lease_time(),
    )


def cancel_upstream(job: RenderJob) -> None:
    try:
        get_client().render_cancel(job.upstream_job_id)
    except ViggleError as exc:
        logger.warning("Cancelling render %s upstream failed: %s", job.public_id, exc.message)


S = TypeVar("S", bound=Submission)


def submission_create(
    kind: type[S],
    /,
    *,
    owner: Any,
    idempotency_key: str,
    budget_checked: bool = False,
    **fields: Any,
) -> tuple[S, bool]:
    """Write a render or a batch under the form's one-use key: (the row, True), or, when a
    request with the same key won the race, (theirs, False).

    Unless ``budget_checked`` (a batch's job, whose batch enforced the total), its
    ``estimate_credits`` are first held against the member's and the organisation's budgets:
    ``budget_enforce`` locks their rows until the caller's transaction commits."""
    if not budget_checked:
        budget_enforce(user=owner, credits=fields["estimate_credits"])
    try:
        with transaction.atomic():
            row = kind.objects.create(owner=owner, idempotency_key=idempotency_key, **fields)
            return row, True
    except IntegrityError:
        return kind.objects.get(idempotency_key=idempotency_key, owner=owner), False
