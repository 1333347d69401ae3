from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.renders.models import RenderJob


def job_list(
    *,
    member: User | None = None,
    status: str = "",
    asset_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[RenderJob]:
    """Every job of the team, newest first (the renders page is shared, like the gallery)."""
    jobs = RenderJob.objects.select_related("owner", "character", "motion").order_by(
        "-created_at", "-id"
    )
    if member is not None:
        jobs = jobs.filter(owner=member)
    if status == "active":
        jobs = jobs.filter(status__in=RenderJob.ACTIVE)
    elif status:
        jobs = jobs.filter(status=status)
    if asset_id:
        jobs = jobs.filter(Q(character_id=asset_id) | Q(motion_id=asset_id))
    tz = timezone.get_current_timezone()
    if date_from:
        jobs = jobs.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        jobs = jobs.filter(created_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    return jobs
