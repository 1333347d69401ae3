"""Reads on exports."""

from __future__ import annotations

from django.db.models import QuerySet

from viggle_web.exports.models import Export
from viggle_web.renders.models import RenderJob


def exports_of(job: RenderJob) -> QuerySet[Export]:
    return Export.objects.filter(job=job).select_related("job").order_by("format")
