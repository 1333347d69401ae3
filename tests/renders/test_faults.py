"""Upstream faults while polling: every job still ends in its true state, charged once."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from tests.renders.test_render_flow import _drive, _post_form
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)

STATUS_PATH = "/api/render/"


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("500", {"count": 6}),
        ("502", {"count": 6}),
        ("503", {"count": 6}),
        ("429", {"count": 6, "retry_after": 1}),
        ("drop", {"count": 4}),
        ("malformed", {"count": 4}),
    ],
)
def test_polling_through_a_fault_burst_completes_and_charges_once(
    member_client,
    assets,
    viggle_sim,
    kind,
    options,  # noqa: F811
):
    character, motion = assets
    _post_form(member_client, character, motion)
    job = RenderJob.objects.get()
    credits_before = viggle_sim.state()["credits"]
    viggle_sim.fault(kind, method="GET", path_prefix=STATUS_PATH, **options)
    job = _drive(job, seconds=60)
    assert job.status == "complete", (job.status, job.error_message)
    faulted = [c for c in viggle_sim.calls("GET", STATUS_PATH) if c["fault"]]
    assert len(faulted) == options["count"]  # the burst really hit the polls
    assert len(viggle_sim.creates()) == 1
    # Upstream charged once (2 credits for 2 s), our ledger booked once.
    assert viggle_sim.state()["credits"] == credits_before - 2
    assert CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"] == 2
    assert CreditEntry.objects.filter(job=job, kind="settle").count() == 1


def test_a_job_shows_retrying_while_viggle_is_down(member_client, assets, viggle_sim, settings):
    settings.VIGGLE_MAX_RETRIES = 0  # surface the first failure to the job at once
    character, motion = assets
    _post_form(member_client, character, motion)
    job = RenderJob.objects.get()
    from viggle_web.renders import services, tasks

    tasks.job_send(job.pk)
    viggle_sim.fault("503", count=1, method="GET", path_prefix=STATUS_PATH)
    RenderJob.objects.filter(pk=job.pk).update(next_poll_at=None)
    services.job_claim(job_id=job.pk, owner="test-worker")
    services.job_poll(job_id=job.pk, owner="test-worker")
    job.refresh_from_db()
    assert job.retrying and job.status == "queued" and job.upstream_errors == 1
    page = member_client.get(f"/renders/{job.public_id}/").content.decode()
    assert "retrying" in page
    job = _drive(job)
    assert job.status == "complete" and not job.retrying


def test_submission_through_a_5xx_is_retried_without_a_second_job(
    member_client, assets, viggle_sim, settings
):
    settings.VIGGLE_MAX_RETRIES = 0
    character, motion = assets
    _post_form(member_client, character, motion)
    job = RenderJob.objects.get()
    viggle_sim.fault("503", count=1, method="POST", path_prefix="/api/render")
    job = _drive(job)
    assert job.status == "complete"
    # The 503 answered the first create (no job started), the second one made the job.
    assert [c["status"] for c in viggle_sim.creates()] == [503, 200]
