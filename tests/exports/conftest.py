"""Transparent results made the way production makes them: assets uploaded through the gallery's
service, the render form posted, the worker's send task and poll loop run against the simulator
over HTTP (which returns a real result MP4 and mask MP4 for ``transparent``)."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.media_factory import make_mp4, make_png
from tests.viggle_fixtures import *  # noqa: F403
from viggle_web.assets.models import Asset
from viggle_web.assets.services import asset_create
from viggle_web.renders import poller, tasks
from viggle_web.renders.models import RenderJob


def upload(*, user, path: Path) -> Asset:
    return asset_create(user=user, upload=SimpleUploadedFile(path.name, path.read_bytes())).asset


@pytest.fixture
def gallery(member, tmp_path):
    character = upload(user=member, path=make_png(tmp_path / "hero.png"))
    motion = upload(
        user=member, path=make_mp4(tmp_path / "dance.mp4", seconds=2.0, size=(192, 144))
    )
    return character, motion


def post_render(client, character: Asset, motion: Asset, **extra):
    data = {
        "character": character.pk,
        "motion": motion.pk,
        "model": "V4_Preview",
        "background_mode": "transparent",
        "bg_color": "#00ff00",
        "idempotency_key": extra.pop("key", "export-form-key-01"),
        **extra,
    }
    return client.post(reverse("renders:new"), data)


def drive(job: RenderJob, *, seconds: float = 60.0) -> RenderJob:
    """What the worker does: the send task, then the poll loop until the job is final."""
    tasks.job_send(job.pk)
    stop = threading.Event()
    thread = threading.Thread(target=poller.run_loop, kwargs={"seconds": seconds, "stop": stop})
    thread.start()
    try:
        for _ in range(int(seconds * 10)):
            job.refresh_from_db()
            if job.is_final:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join()
    job.refresh_from_db()
    return job


@pytest.fixture
def transparent_job(member_client, gallery, viggle_sim) -> RenderJob:
    character, motion = gallery
    response = post_render(member_client, character, motion)
    assert response.status_code == 302, response.content[:500]
    job = drive(RenderJob.objects.get())
    assert job.status == "complete", job.error_message
    assert job.output and job.mask
    return job


# --- reading media back -------------------------------------------------------------------------


def decode_gray(path_or_file) -> list[np.ndarray]:
    """Every frame's full-range luma (the mask), as the export reads it."""
    with av.open(path_or_file) as container:
        return [
            frame.reformat(format="gray").to_ndarray()
            for frame in container.decode(container.streams.video[0])
        ]


def decode_rgb(path_or_file) -> list[np.ndarray]:
    with av.open(path_or_file) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]


def stream_seconds(path_or_file) -> float:
    with av.open(path_or_file) as container:
        stream = container.streams.video[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / av.time_base
