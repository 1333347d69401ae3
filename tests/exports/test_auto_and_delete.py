"""The render form's "also make alpha exports": a real worker (``manage.py qcluster``) sends the
render, polls it to complete, and the completion starts the exports it made. Then deleting the
result's files deletes the exports with them."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from tests.exports.conftest import post_render
from tests.workers import QCluster, wait_until
from viggle_web.exports.models import Export
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_exports_chosen_on_the_form_are_made_when_the_render_completes_then_deleted_with_it(
    member_client, gallery, viggle_sim
):
    character, motion = gallery
    response = post_render(member_client, character, motion, alpha_exports="on")
    assert response.status_code == 302
    job = RenderJob.objects.get()
    waiting = Export.objects.filter(job=job).order_by("format")
    assert [(e.format, e.status) for e in waiting] == [
        ("mov", "waiting"),
        ("png", "waiting"),
        ("webm", "waiting"),
    ]
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "Waiting for the render" in page
    assert reverse("exports:stream", args=[job.public_id]) in page  # live while they wait

    worker = QCluster("exports").start()
    try:
        wait_until(
            lambda: (
                Export.objects.filter(job=job, status="complete").count() == 3
                or Export.objects.filter(job=job, status="failed").exists()
            ),
            timeout=180,
            message="the exports were not made",
        )
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.status == "complete"
    exports = list(Export.objects.filter(job=job))
    assert all(e.status == "complete" and e.file for e in exports), [
        (e.format, e.status, e.error_message) for e in exports
    ]
    names = [f.name for e in exports for f in (e.file, e.still) if f]
    assert names and all(default_storage.exists(n) for n in names)
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    for fmt in ("webm", "mov", "png"):
        assert reverse("exports:download", args=[job.public_id, fmt]) in page
    assert "data-alpha-preview" in page and "Checkerboard" in page

    response = member_client.post(reverse("renders:delete_files", args=[job.public_id]))
    assert response.status_code == 302
    assert not Export.objects.filter(job=job).exists()
    assert not any(default_storage.exists(n) for n in names)
    missing = member_client.get(reverse("exports:download", args=[job.public_id, "webm"]))
    assert missing.status_code == 404


def test_the_form_refuses_alpha_exports_without_a_transparent_background(
    member_client, gallery, viggle_sim
):
    character, motion = gallery
    response = post_render(
        member_client, character, motion, background_mode="original", alpha_exports="on"
    )
    assert response.status_code == 400
    assert "Alpha exports need the transparent background." in response.content.decode()
    assert not RenderJob.objects.exists() and not Export.objects.exists()
