"""Real django-q2 clusters (`manage.py qcluster`, not sync mode) on the test database, polling
the simulator over HTTP."""

from __future__ import annotations

import os
from collections import Counter

import httpx
import pytest
from django.db.models import Sum

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.workers import QCluster, wait_until
from viggle_web.renders import services
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.services import credits_for

pytestmark = pytest.mark.django_db(transaction=True)


def _submit_many(owner, tmp_path, count: int) -> list[RenderJob]:
    character = asset_with_file(owner=owner, kind="image", path=make_png(tmp_path / "c.png"))
    motion = asset_with_file(
        owner=owner, kind="video", path=make_mp4(tmp_path / "m.mp4", seconds=1.0, fps=8)
    )
    return [
        services.job_submit(
            owner=owner,
            idempotency_key=f"bulk-{i:06d}",
            request=services.RenderRequest(character=character, motion=motion),
        )
        for i in range(count)
    ]


def _all_calls(sim) -> list[dict]:
    calls, since = [], 0
    while True:
        page = httpx.get(sim.control_url, params={"since": since}, timeout=30).json()["calls"]
        if not page:
            return calls
        calls.extend(page)
        since = page[-1]["id"]


def _status_gets(sim) -> Counter:
    return Counter(
        c["path"].rsplit("/", 1)[-1]
        for c in _all_calls(sim)
        if c["method"] == "GET" and c["path"].startswith("/api/render/")
    )


def _all_final() -> bool:
    return not RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists()


def _lease_holders(clusters: list[QCluster]) -> set[str]:
    """Which of ``clusters`` hold a job's lease now. A lease owner is "host:pid:nonce"; the
    worker process ``pid`` belongs to the process group (session) its cluster started."""
    groups = {cluster.process.pid: cluster.name for cluster in clusters if cluster.process}
    holders = set()
    for owner in RenderJob.objects.exclude(lease_owner="").values_list("lease_owner", flat=True):
        try:
            holders.add(groups.get(os.getpgid(int(owner.split(":")[1])), "another process"))
        except (IndexError, ValueError, ProcessLookupError):
            continue  # the worker has exited since
    return holders


@pytest.mark.timeout(600)  # waits up to 240 s for 50 renders, after submitting them
def test_two_clusters_finish_50_jobs_and_never_poll_one_job_concurrently(
    member, tmp_path, viggle_sim
):
    jobs = _submit_many(member, tmp_path, 50)
    assert [job.estimate_credits for job in jobs] == [1] * 50  # one second of motion each
    clusters = [QCluster("a").start(), QCluster("b").start()]
    holders: set[str] = set()

    def finished() -> bool:
        holders.update(_lease_holders(clusters))
        return _all_final()

    try:
        wait_until(finished, timeout=240, interval=0.05, message="jobs still active after 240 s")
    finally:
        for cluster in clusters:
            cluster.stop()
    statuses = Counter(RenderJob.objects.values_list("status", flat=True))
    assert statuses == {"complete": 50}, statuses
    # Both clusters' workers took part (the task queue is shared), and nothing else did.
    assert holders == {"a", "b"}
    # Exactly one upstream job per render: nothing was sent twice.
    assert len(viggle_sim.creates()) == 50
    # Every status call made upstream was recorded by the worker holding that job's lease:
    # a second worker polling the same job at the same time would have been turned away
    # (its result discarded), leaving more upstream polls than recorded ones.
    gets = _status_gets(viggle_sim)
    for job in RenderJob.objects.all():
        assert gets[job.upstream_job_id] == job.poll_count, job.public_id
        # Each result was copied into our storage whole, and booked once at its actual length.
        with job.output.open("rb") as output:
            assert len(output.read()) == job.output_size > 0
        total = CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"]
        assert total == credits_for(job.output_seconds, fast=False)
    assert CreditEntry.objects.filter(kind="settle").count() == 50


def test_killing_a_worker_mid_flight_loses_no_job(member, tmp_path, viggle_sim):
    viggle_sim.set_speed(2)  # slow enough that every job is in flight when the worker dies
    _submit_many(member, tmp_path, 8)
    fast_leases = {"RENDER_LEASE_SECONDS": "3"}
    first = QCluster("first", **fast_leases).start()
    try:
        wait_until(
            lambda: RenderJob.objects.filter(upstream_job_id__isnull=False).count() == 8,
            timeout=60,
            message="jobs were not all sent",
        )
    finally:
        first.kill()
    assert RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists()
    viggle_sim.set_speed(20)
    second = QCluster("second", **fast_leases).start()
    try:
        wait_until(_all_final, timeout=120, message="jobs still active after the restart")
    finally:
        second.stop()
    assert set(RenderJob.objects.values_list("status", flat=True)) == {"complete"}
    assert len(viggle_sim.creates()) == 8
    for job in RenderJob.objects.all():
        total = CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"]
        assert total == 1  # one second of output, booked once
