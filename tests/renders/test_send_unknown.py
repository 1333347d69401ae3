"""A render whose send outcome is unknown: Viggle may have started (and charged) a job we have
no id for. It is never sent again, keeps its credit reservation, and waits for an admin, who
enters the upstream job id (found in Viggle's dashboard) or releases the credits.

The moment is made real: a worker is SIGKILLed while its create call is at the simulator (a
slow create), after our send marker was committed; the simulator then starts and charges the
job. Before the fix, the next worker failed the job and released its credits: a charged
upstream job our ledger did not know.
"""

from __future__ import annotations

import pytest
from django.db.models import Sum

from tests.renders.test_render_flow import _drive, _post_form
from tests.workers import QCluster, wait_until
from viggle_web.core.models import AuditEvent
from viggle_web.renders import tasks
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)

FAST_LEASES = {"RENDER_LEASE_SECONDS": "3"}


def _ledger(job: RenderJob) -> tuple[list[str], int]:
    entries = CreditEntry.objects.filter(job=job)
    kinds = sorted(entries.values_list("kind", flat=True))
    return kinds, entries.aggregate(s=Sum("credits"))["s"] or 0


def test_a_worker_killed_mid_send_leaves_the_job_to_an_admin_who_links_the_upstream_id(
    member_client, admin_client, assets, viggle_sim, settings
):
    settings.RENDER_LEASE_SECONDS = 3  # the job is due to the poller 3 s after submit
    # The create call is held at the simulator for 4 s; it then starts and charges the job.
    viggle_sim.fault("latency", latency_ms=4000, count=1, method="POST", path_prefix="/api/render")
    character, motion = assets
    _post_form(member_client, character, motion)
    job = RenderJob.objects.get()
    credits_before = viggle_sim.state()["credits"]
    first = QCluster("first", **FAST_LEASES).start()
    try:
        wait_until(
            lambda: RenderJob.objects.filter(pk=job.pk, submit_started_at__isnull=False).exists(),
            timeout=60,
            message="the worker did not start sending",
        )
        # The create call has reached Viggle (the simulator logs it as it arrives).
        wait_until(lambda: viggle_sim.creates(), timeout=30, message="no create call")
    finally:
        first.kill()  # the create call is out; its answer will never be read
    wait_until(lambda: len(viggle_sim.jobs()) == 1, timeout=30, message="no upstream job")
    assert viggle_sim.state()["credits"] == credits_before - 2  # Viggle charged for it
    upstream_id = next(iter(viggle_sim.jobs()))

    second = QCluster("second", **FAST_LEASES).start()
    try:
        wait_until(
            lambda: RenderJob.objects.get(pk=job.pk).status == RenderJob.Status.ATTENTION,
            timeout=60,
            message="the job was not marked as needing attention",
        )
        job.refresh_from_db()
        assert job.upstream_job_id is None
        # The reservation stays (the credits may be spent upstream); nothing was released.
        assert _ledger(job) == (["reserve"], 2)

        # The owner sees it is waiting for an admin; admins see it and can resolve it.
        owner_page = member_client.get(f"/renders/{job.public_id}/").content.decode()
        assert "Needs attention" in owner_page
        assert 'name="upstream_job_id"' not in owner_page
        refused = member_client.post(
            f"/renders/{job.public_id}/resolve/", {"upstream_job_id": upstream_id}
        )
        assert refused.status_code == 403
        listing = admin_client.get("/renders/?status=attention").content.decode()
        assert job.public_id in listing and "Needs attention" in listing
        admin_page = admin_client.get(f"/renders/{job.public_id}/").content.decode()
        assert 'name="upstream_job_id"' in admin_page

        # An id Viggle does not know is refused; the job keeps waiting.
        response = admin_client.post(
            f"/renders/{job.public_id}/resolve/",
            {"action": "link", "upstream_job_id": "job_does_not_exist"},
            follow=True,
        )
        assert "Viggle has no render with that id" in response.content.decode()
        job.refresh_from_db()
        assert job.status == RenderJob.Status.ATTENTION

        # The admin found the job in Viggle's dashboard and enters its id: it is polled and
        # finished like any other, and settled once.
        response = admin_client.post(
            f"/renders/{job.public_id}/resolve/",
            {"action": "link", "upstream_job_id": upstream_id},
        )
        assert response.status_code == 302
        wait_until(
            lambda: RenderJob.objects.get(pk=job.pk).status == RenderJob.Status.COMPLETE,
            timeout=60,
            message="the linked job did not complete",
        )
    finally:
        second.stop()
    job.refresh_from_db()
    assert job.upstream_job_id == upstream_id and job.output
    assert _ledger(job) == (["reserve", "settle"], 2)
    assert len(viggle_sim.creates()) == 1  # never sent again
    assert AuditEvent.objects.filter(action="render_send_resolved").count() == 1


def test_a_500_on_create_is_not_resent_and_an_admin_may_release_it(
    member_client, admin_client, assets, viggle_sim, settings
):
    """A 500 may come after Viggle started the job: sending again could pay twice, and
    releasing the credits could leave a charge our ledger does not know."""
    settings.VIGGLE_MAX_RETRIES = 0
    character, motion = assets
    _post_form(member_client, character, motion)
    job = RenderJob.objects.get()
    viggle_sim.fault("500", count=1, method="POST", path_prefix="/api/render")
    tasks.job_send(job.pk)
    tasks.job_send(job.pk)
    job.refresh_from_db()
    assert job.status == RenderJob.Status.ATTENTION
    assert len(viggle_sim.creates()) == 1
    assert _ledger(job) == (["reserve"], 2)
    # The poller leaves it alone too.
    job = _drive(job, seconds=2)
    assert job.status == RenderJob.Status.ATTENTION
    assert len(viggle_sim.creates()) == 1

    response = admin_client.post(f"/renders/{job.public_id}/resolve/", {"action": "release"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == RenderJob.Status.FAILED
    assert _ledger(job) == (["release", "reserve"], 0)
    # Resolved once: a second resolution is refused.
    again = admin_client.post(
        f"/renders/{job.public_id}/resolve/", {"action": "release"}, follow=True
    )
    assert "does not need attention" in again.content.decode()
    assert _ledger(job) == (["release", "reserve"], 0)
