"""A missing or damaged mask fails the export plainly and leaves the result as it was.

The damage is done to our own storage (as a failing disk would): the mask file is deleted, or
cut to half its length, after the render completed through the real path."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from viggle_web.exports import tasks
from viggle_web.exports.models import Export
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)


def _fingerprint(job: RenderJob) -> dict:
    job.refresh_from_db()
    with job.output.open("rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    return {
        "status": job.status,
        "output": job.output.name,
        "mask": job.mask.name,
        "poster": job.poster.name,
        "output_size": job.output_size,
        "output_seconds": job.output_seconds,
        "updated_at": job.updated_at,
        "sha256": digest,
    }


def _truncate(name: str) -> None:
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    default_storage.delete(name)
    default_storage.save(name, io.BytesIO(data[: len(data) // 2]))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("deleted", "The mask video is missing from storage"),
        # Cut before its index (moov) or mid-stream: unreadable, or ending early.
        ("truncated", "The mask video"),
    ],
)
def test_a_broken_mask_fails_the_export_and_leaves_the_result(
    damage, reason, member_client, transparent_job
):
    job = transparent_job
    if damage == "deleted":
        default_storage.delete(job.mask.name)
    else:
        _truncate(job.mask.name)
    before = _fingerprint(job)

    response = member_client.post(
        reverse("exports:request", args=[job.public_id]), {"format": "webm"}
    )
    assert response.status_code == 302
    export = Export.objects.get(job=job)
    tasks.export_make(export.pk)  # the worker's task

    export.refresh_from_db()
    assert export.status == "failed"
    assert export.error_message.startswith(reason), export.error_message
    assert "result itself is unchanged" in export.error_message
    assert not export.file
    assert _fingerprint(job) == before

    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "Failed" in page and reason in page
    # The result itself still downloads.
    video = member_client.get(reverse("renders:download", args=[job.public_id]), {"file": "output"})
    assert video.status_code == 200


def test_a_mask_shorter_than_the_video_fails_the_export(member_client, transparent_job, tmp_path):
    """A mask that decodes but stops early (a damaged tail, or the wrong file) is refused too."""
    from tests.media_factory import make_mp4

    job = transparent_job
    short = make_mp4(tmp_path / "short.mp4", seconds=0.5, size=(192, 144))
    default_storage.delete(job.mask.name)
    default_storage.save(job.mask.name, short.open("rb"))
    before = _fingerprint(job)

    member_client.post(reverse("exports:request", args=[job.public_id]), {"format": "png"})
    export = Export.objects.get(job=job)
    tasks.export_make(export.pk)
    export.refresh_from_db()
    assert export.status == "failed"
    assert export.error_message.startswith("The mask video ends after 6 frames"), (
        export.error_message
    )
    assert _fingerprint(job) == before


def test_a_failed_export_can_be_asked_for_again(member_client, transparent_job):
    job = transparent_job
    with default_storage.open(job.mask.name, "rb") as handle:
        good = handle.read()
    default_storage.delete(job.mask.name)
    url = reverse("exports:request", args=[job.public_id])
    member_client.post(url, {"format": "mov"})
    export = Export.objects.get(job=job)
    tasks.export_make(export.pk)
    export.refresh_from_db()
    assert export.status == "failed"

    default_storage.save(job.mask.name, io.BytesIO(good))  # the disk was repaired
    member_client.post(url, {"format": "mov"})
    export.refresh_from_db()
    assert (export.status, export.error_message) == ("queued", "")
    tasks.export_make(export.pk)
    export.refresh_from_db()
    assert export.status == "complete" and export.file
