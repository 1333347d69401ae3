"""The job page's exports section, live: the render's SSE machinery (JobStream: WSGI polling,
ASGI woken by LISTEN) with its own event, ``exports-<public_id>``, sent whenever any export of the
job changes. NOTIFY payloads are ``exports:<public_id>`` so only these streams wake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from viggle_web.exports.models import Export
from viggle_web.exports.services import stream_key
from viggle_web.renders.models import RenderJob
from viggle_web.renders.stream import JobStream

SectionRenderer = Callable[[RenderJob], str]


class ExportStream(JobStream):
    def __init__(self, *, job: RenderJob, since: datetime | None, render: SectionRenderer):
        super().__init__(public_ids=[stream_key(job.public_id)], since=since, render=render)
        self.job_pk = job.pk
        self.job_public_id = job.public_id

    def changed(self) -> list[str]:
        newest = (
            Export.objects.filter(job_id=self.job_pk)
            .order_by("-updated_at")
            .values_list("updated_at", flat=True)
            .first()
        )
        job = RenderJob.objects.select_related("owner").get(pk=self.job_pk)
        # The section also changes when an export is deleted (with the files) or the job
        # finishes: follow the job's own updated_at as well.
        stamp = max(t for t in (newest, job.updated_at) if t is not None)
        if self.since is not None and stamp <= self.since:
            return []
        self.since = stamp
        html = self.render(job)
        data = "\n".join(f"data: {line}" for line in html.strip().splitlines() or [""])
        return [f"id: {stamp.isoformat()}\nevent: exports-{job.public_id}\n{data}\n\n"]
