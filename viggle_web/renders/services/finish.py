"""Finishing a render: copy the result (and mask) into our storage, cut a poster, settle."""

from __future__ import annotations

import os
import tempfile

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from viggle_web.assets import media
from viggle_web.renders import states
from viggle_web.renders.models import RenderJob
from viggle_web.renders.services.common import backoff, lease_released, lock
from viggle_web.renders.services.send import job_fail
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import ViggleError

S = RenderJob.Status


def _probe_and_poster(path: str) -> tuple[float, bytes | None]:
    """The result's length, and its poster cut the way the gallery cuts one for a video
    (``assets.media.video_poster``); no poster when no frame decodes."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / 1_000_000
    with open(path, "rb") as source:
        try:
            poster = media.video_poster(source, at_seconds=min(1.0, duration / 3))
        except media.MediaRejected:
            poster = None
    return duration, poster


def job_finish(*, job_id: int, owner: str) -> None:
    """Copy the result (and mask) into our storage at once (upstream URLs expire), cut a poster,
    settle the reservation with the actual seconds. Safe to repeat: a job already complete is
    left alone and the settle entry is unique."""
    job = RenderJob.objects.get(pk=job_id)
    if job.status != S.FINISHING or job.lease_owner != owner:
        return
    client = get_client()
    files: dict[str, str] = {}
    try:
        for field, url in (("output", job.upstream_cdn_url), ("mask", job.upstream_mask_url)):
            if not url:
                continue
            handle, path = tempfile.mkstemp(suffix=".mp4", prefix="viggle-result-")
            os.close(handle)
            files[field] = path
            with open(path, "wb") as dest:
                client.download(url, dest)
        seconds, poster = _probe_and_poster(files["output"])
    except (ViggleError, OSError, ValueError) as exc:
        for path in files.values():
            os.unlink(path)
        retryable = isinstance(exc, ViggleError) and exc.retryable
        with transaction.atomic():
            job = lock(job_id)
            if job.status != S.FINISHING:
                return
            errors = job.upstream_errors + 1
            if retryable or errors < 5:
                states.job_transition(
                    job_id,
                    S.FINISHING,
                    expect=S.FINISHING,
                    fields={
                        "upstream_errors": errors,
                        "retrying": True,
                        **lease_released(backoff(errors)),
                    },
                )
            else:
                job_fail(
                    job,
                    code="download",
                    message="The finished video could not be fetched.",
                    upstream_errors=errors,
                )
        return
    try:
        with transaction.atomic():
            job = lock(job_id)
            if job.status != S.FINISHING:
                return
            for field, path in files.items():
                with open(path, "rb") as handle:
                    getattr(job, field).save(f"{field}.mp4", File(handle), save=False)
            if poster:
                job.poster.save("poster.jpg", ContentFile(poster), save=False)
            states.job_transition(
                job_id,
                S.COMPLETE,
                expect=S.FINISHING,
                fields={
                    "output": job.output.name,
                    "mask": job.mask.name,
                    "poster": job.poster.name,
                    "output_size": os.path.getsize(files["output"]),
                    "output_seconds": seconds,
                    "retrying": False,
                    "completed_at": timezone.now(),
                    **lease_released(None),
                },
                progress=100,
                output_seconds=seconds,
            )
    finally:
        for path in files.values():
            os.unlink(path)
