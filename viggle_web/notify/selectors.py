"""Reads for the webhooks and notifications pages, and the daily digest's contents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from viggle_web.accounts.models import User
from viggle_web.assets.models import ViggleResource
from viggle_web.notify.models import Delivery, Endpoint, Notice
from viggle_web.renders.models import RenderJob
from viggle_web.renders.selectors import job_title


def endpoints_visible(*, user: User) -> QuerySet[Endpoint]:
    """The member's own endpoints, and the organisation-wide ones for admins."""
    rows = Endpoint.objects.select_related("owner")
    if user.is_admin:
        return rows.filter(Q(owner=user) | Q(org_wide=True))
    return rows.filter(owner=user, org_wide=False)


def script_deliveries(*, user: User) -> QuerySet[Delivery]:
    """Deliveries to webhook_urls given in the member's API requests."""
    return Delivery.objects.filter(owner=user, endpoint__isnull=True).exclude(url="email")


def unread_notices(*, user: User) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).count()


@dataclass(frozen=True)
class DigestLine:
    what: str
    outcome: str
    at: datetime


def digest_lines(*, user: User, start: datetime, end: datetime) -> list[DigestLine]:
    """What ended for the member in [start, end): renders, preprocessing and imports."""
    lines = [
        DigestLine(
            what=f"Render {job_title(job)}",
            outcome=job.get_status_display(),
            at=job.completed_at,
        )
        for job in RenderJob.objects.filter(
            owner=user, completed_at__gte=start, completed_at__lt=end
        ).select_related("character", "motion")
    ]
    resources = ViggleResource.objects.filter(
        requested_by=user,
        status__in=[ViggleResource.Status.READY, ViggleResource.Status.FAILED],
        updated_at__gte=start,
        updated_at__lt=end,
    ).select_related("asset")
    for resource in resources:
        noun = "Template import" if resource.asset.kind == "template" else "Preprocessing"
        lines.append(
            DigestLine(
                what=f"{noun} {resource.asset.name}",
                outcome=resource.get_status_display(),
                at=resource.updated_at,
            )
        )
    return sorted(lines, key=lambda line: line.at)
