"""Reads on exports."""

from __future__ import annotations

from django.db.models import QuerySet

from viggle_web.exports.models import Export
from viggle_web.renders.models import RenderJob


def exports_of(job: RenderJob) -> QuerySet[Export]:
    return Export.objects.filter(job=job).select_related("job").order_by("format")


def export_preview(exports: list[Export]) -> Export | None:
    """The export the page previews: the WebM (a browser plays its alpha), else any finished one
    with a still."""
    ready = [e for e in exports if e.status == Export.Status.COMPLETE and e.file]
    for export in ready:
        if export.format == Export.Format.WEBM:
            return export
    return next((e for e in ready if e.still), None)
