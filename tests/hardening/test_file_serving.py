"""One file-serving path, with Range, for every download and preview (issue 14 point 7, issue 17
"said once"): gallery files and previews, render results and posters, signed API links. Each
answers a byte range with 206, a range past the end or a huge one with 416, never a 500.

The files are made the way production makes them: an upload through the gallery (its preview
cut at upload) and a render sent to the simulator over HTTP and polled to complete.
"""

from __future__ import annotations

import threading

import pytest
from django.urls import reverse

from viggle_web.assets.models import Asset
from viggle_web.gateway.services import download_sign
from viggle_web.renders import poller, tasks
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)

HUGE = "9" * 5000  # past Python's 4300-digit int() limit: used to raise ValueError -> 500


def _upload(client, path, content_type: str) -> Asset:
    with path.open("rb") as handle:
        response = client.post(
            reverse("gallery:upload"),
            {"file": handle},
            headers={"X-Requested-With": "XMLHttpRequest"},
        )
    assert response.status_code in (200, 201), response.content
    return Asset.objects.get(pk=response.json()["asset_id"])


def _drive(job: RenderJob, *, seconds: float = 30.0) -> RenderJob:
    tasks.job_send(job.pk)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: poller.run_loop(seconds=seconds, stop=stop))
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
def served(member_client, member, media_files, viggle_sim, media_root):
    """(url, headers, stored bytes) for every kind of download and preview."""
    image = _upload(member_client, media_files.png, "image/png")
    video = _upload(member_client, media_files.mp4, "video/mp4")
    response = member_client.post(
        reverse("renders:new"),
        {
            "character": image.pk,
            "motion": video.pk,
            "model": "V4_Preview",
            "background_mode": "original",
            "bg_color": "#00ff00",
            "idempotency_key": "file-serving-0001",
        },
    )
    assert response.status_code == 302
    job = _drive(RenderJob.objects.get())
    assert job.status == "complete", job.error_message
    download = reverse("renders:download", args=[job.public_id])
    signed = reverse(
        "gateway:signed_download",
        args=[download_sign(kind="job", ident=job.public_id, which="output")],
    )
    return [
        (reverse("gallery:file", args=[image.pk]), image.file),
        (reverse("gallery:file", args=[video.pk]), video.file),
        (reverse("gallery:preview", args=[video.pk]), video.preview),
        (f"{download}?file=output", job.output),
        (f"{download}?file=poster", job.poster),
        (signed, job.output),
    ]


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_every_download_and_preview_answers_ranges(served, member_client) -> None:
    for url, field in served:
        with field.open("rb") as handle:
            stored = handle.read()
        size = len(stored)

        whole = member_client.get(url)
        assert whole.status_code == 200, url
        assert whole["Accept-Ranges"] == "bytes", url
        assert _body(whole) == stored, url

        part = member_client.get(url, headers={"Range": "bytes=4-11"})
        assert part.status_code == 206, url
        assert part["Content-Range"] == f"bytes 4-11/{size}", url
        assert _body(part) == stored[4:12], url

        tail = member_client.get(url, headers={"Range": "bytes=-5"})
        assert tail.status_code == 206 and _body(tail) == stored[-5:], url

        for header in (f"bytes={size}-", f"bytes={HUGE}-", f"bytes=0-{HUGE}", f"bytes=-{HUGE}"):
            refused = member_client.get(url, headers={"Range": header})
            assert refused.status_code == 416, (url, header[:40])
            assert refused["Content-Range"] == f"bytes */{size}", url
