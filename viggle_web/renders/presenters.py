"""How a job is shown to people: its stage timeline, an estimate of the time left and readable
names for its downloaded files. Pure functions of a job (no queries, no writes), used by the
job page, its live fragment and the download view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.text import slugify

from viggle_web.renders.models import RenderJob

Status = RenderJob.Status

# The stages a render passes through, in order, with the status that means "on this stage".
STAGES: list[tuple[str, str]] = [
    (Status.PENDING, "Sending to Viggle"),
    (Status.QUEUED, "In Viggle's queue"),
    (Status.PROCESSING, "Rendering"),
    (Status.FINISHING, "Saving the result"),
    (Status.COMPLETE, "Ready"),
]


@dataclass(frozen=True)
class Stage:
    label: str
    state: str  # "done", "current", "todo" or "stopped"


def _reached(job: RenderJob) -> int:
    """Index of the furthest stage a final failed/cancelled job is known to have reached."""
    if job.progress_pct > 0 or job.checkpoint:
        return 2
    if job.upstream_status or job.submitted_at:
        return 1
    return 0


def job_timeline(job: RenderJob) -> list[Stage]:
    order = [status for status, _ in STAGES]
    if job.status == Status.COMPLETE:
        return [Stage(label, "done") for _, label in STAGES]
    if job.status in order:
        current = order.index(job.status)
        stopped = None
    else:  # failed, cancelled (or a status this list does not know): where it stopped
        current = _reached(job)
        stopped = "stopped"
    stages = []
    for n, (_, label) in enumerate(STAGES):
        if n < current:
            state = "done"
        elif n == current:
            state = stopped or "current"
        else:
            state = "todo"
        stages.append(Stage(label, state))
    return stages


def time_left_seconds(job: RenderJob, now: datetime | None = None) -> int | None:
    """While rendering: elapsed time since the job was sent, scaled by the progress still to
    go (``elapsed × (100 − p) / p``). None when there is nothing to scale yet."""
    started = job.submitted_at or job.created_at
    if job.status != Status.PROCESSING or not started or not 0 < job.progress_pct < 100:
        return None
    elapsed = ((now or timezone.now()) - started).total_seconds()
    if elapsed <= 0:
        return None
    return max(1, round(elapsed * (100 - job.progress_pct) / job.progress_pct))


def time_left_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {seconds} s left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left"


def download_name(job: RenderJob, which: str) -> str:
    """A file name people can sort and recognise: character, motion and day, e.g.
    ``hero-x-walk-2026-12-02.mp4`` (``-mask``/``-poster`` for the others); a template render
    is named after its cast when selectors.jobs_name_casts gave it one."""
    who = job.character.name if job.character else " ".join(getattr(job, "cast_names", []))
    character = slugify(who or "template")[:40] or "character"
    motion = slugify(job.motion.name if job.motion else "motion")[:40] or "motion"
    day = timezone.localtime(job.created_at).date().isoformat()
    suffix = {"output": "", "mask": "-mask", "poster": "-poster"}.get(which, f"-{which}")
    extension = "jpg" if which == "poster" else "mp4"
    return f"{character}-x-{motion}-{day}{suffix}.{extension}"
