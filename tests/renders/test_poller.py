"""The one poller (renders/poller.py): one lease, held jobs, writes only on change, a stop that
loses nothing. Jobs are made the way production makes them (the form, then the worker's send to
the simulator over HTTP); the poller's own steps are driven from the test's thread."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from datetime import datetime

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.renders.test_render_flow import _post_form
from tests.workers import QCluster, wait_until
from viggle_web.renders import tasks
from viggle_web.renders.models import RenderJob
from viggle_web.renders.poller import Poller, next_poll_time

pytestmark = pytest.mark.django_db(transaction=True)

# At this simulator speed a 2 s render lasts over five minutes and is "queued" (progress 0) for
# its first half minute: its answers do not change while a test runs.
SLOW = 0.05


def _sent(client, assets, count: int, *, prefix: str = "poller") -> list[RenderJob]:
    """``count`` renders from the form, each sent to Viggle by the worker's task."""
    character, motion = assets
    ids = []
    for i in range(count):
        _post_form(client, character, motion, key=f"{prefix}-{i:04d}")
        job = RenderJob.objects.get(idempotency_key=f"{prefix}-{i:04d}")
        tasks.job_send(job.pk)
        ids.append(job.pk)
    jobs = list(RenderJob.objects.filter(pk__in=ids).order_by("pk"))
    assert {j.status for j in jobs} == {"queued"}
    return jobs


def _wait_due(jobs: list[RenderJob]) -> None:
    """A sent job is first due a second after its send."""
    latest = max(j.next_poll_at for j in jobs)
    while timezone.now() < latest:
        time.sleep(0.1)


def _answers(poller: Poller) -> None:
    """Send the due polls and take in their answers."""
    poller.dispatch(time.time())
    deadline = time.monotonic() + 30
    while poller.in_flight:
        assert time.monotonic() < deadline, "no answer from the simulator"
        poller.receive(0.5)


def _claim_in_thread(poller: Poller, barrier: threading.Barrier) -> None:
    try:
        barrier.wait()
        poller.claim(time.time())
    finally:
        connection.close()


def _gets_by_job(sim) -> dict[str, list[datetime]]:
    times: dict[str, list[datetime]] = defaultdict(list)
    since = 0
    while True:
        calls = httpx.get(sim.control_url, params={"since": since}, timeout=30).json()["calls"]
        if not calls:
            return times
        for call in calls:
            if call["method"] == "GET" and call["path"].startswith("/api/render/"):
                at = datetime.fromisoformat(call["at"].replace("Z", "+00:00"))
                times[call["path"].rsplit("/", 1)[-1]].append(at)
        since = calls[-1]["id"]


def test_two_pollers_claiming_at_once_never_hold_the_same_job(member_client, assets, viggle_sim):
    viggle_sim.set_speed(SLOW)
    jobs = _sent(member_client, assets, 8)
    _wait_due(jobs)
    first, second = Poller(owner="first"), Poller(owner="second")
    barrier = threading.Barrier(2)
    threads = [
        threading.Thread(target=_claim_in_thread, args=(p, barrier)) for p in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        held_first, held_second = set(first.held), set(second.held)
        assert held_first.isdisjoint(held_second)
        assert held_first | held_second == {j.pk for j in jobs}
        owners = dict(RenderJob.objects.values_list("pk", "lease_owner"))
        assert all(owners[pk] == "first" for pk in held_first)
        assert all(owners[pk] == "second" for pk in held_second)
        # A held job stays with its holder: claiming again takes none of the other's.
        second.claim(time.time())
        assert set(second.held) == held_second
    finally:
        first.shutdown()
        second.shutdown()
    # Stopped pollers give every lease back.
    assert not RenderJob.objects.exclude(lease_owner="").exists()
    assert not RenderJob.objects.filter(lease_until__isnull=False).exists()


def test_two_running_pollers_poll_each_job_by_one_and_never_within_3_s(
    member_client, assets, viggle_sim
):
    viggle_sim.set_speed(SLOW)
    jobs = _sent(member_client, assets, 6)
    stop = threading.Event()

    def run(name: str) -> None:
        try:
            Poller(owner=name, stop=stop).run(seconds=30)
        finally:
            connection.close()

    loops = [threading.Thread(target=run, args=(f"loop-{i}",)) for i in range(2)]
    for loop in loops:
        loop.start()
    time.sleep(8)  # long enough for two or three polls of every job
    stop.set()
    for loop in loops:
        loop.join()
    gets = _gets_by_job(viggle_sim)
    for job in jobs:
        times = sorted(gets[job.upstream_job_id])
        assert len(times) >= 2, (job.pk, times)
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        # Two pollers polling one job would show up as two GETs close together.
        assert min(gaps) >= 3.0, gaps


def test_a_stale_lease_is_taken_over_and_its_late_write_changes_nothing(
    member_client, assets, viggle_sim, settings
):
    settings.RENDER_LEASE_SECONDS = 2
    viggle_sim.set_speed(SLOW)
    (job,) = _sent(member_client, assets, 1)
    _wait_due([job])
    dead = Poller(owner="dead")
    dead.claim(time.time())  # ... and then the worker dies: no renewal, no release
    assert job.pk in dead.held
    other = Poller(owner="other")
    try:
        other.claim(time.time())
        assert not other.held  # the lease is still live
        wait_until(
            lambda: RenderJob.objects.get(pk=job.pk).lease_until < timezone.now(),
            timeout=10,
            message="the lease never ran out",
        )
        other.claim(time.time())
        assert job.pk in other.held
        assert RenderJob.objects.get(pk=job.pk).lease_owner == "other"
        before = RenderJob.objects.get(pk=job.pk).updated_at
        # The dead worker's late write (its lease taken over) changes nothing, and it lets go.
        dead.held[job.pk].dirty = True
        dead.dirty.add(job.pk)
        dead.flush()
        assert job.pk not in dead.held
        assert RenderJob.objects.get(pk=job.pk).updated_at == before
        assert RenderJob.objects.get(pk=job.pk).lease_owner == "other"
    finally:
        other.shutdown()
        dead.fetcher.close()
        dead.side.shutdown()


def test_an_unchanged_answer_writes_nothing(member_client, assets, viggle_sim):
    viggle_sim.set_speed(SLOW)
    (job,) = _sent(member_client, assets, 1)
    _wait_due([job])
    before = RenderJob.objects.get(pk=job.pk)
    poller = Poller(owner="quiet")
    try:
        poller.claim(time.time())
        with CaptureQueriesContext(connection) as queries:
            _answers(poller)  # queued, progress 0: what the row says already
            poller.flush()
        assert poller.polls == 1
        assert len(queries) == 0, [q["sql"] for q in queries]
        after = RenderJob.objects.get(pk=job.pk)
        assert after.updated_at == before.updated_at
        assert (after.status, after.progress_pct) == ("queued", 0)
    finally:
        poller.shutdown()
    # Released with its poll counted and its next poll kept.
    job.refresh_from_db()
    assert job.poll_count == 1 and job.lease_owner == ""
    assert job.next_poll_at > before.next_poll_at


def test_a_changed_answer_is_written_and_announced(member_client, assets, viggle_sim):
    viggle_sim.set_speed(1)  # a 16 s render: a few seconds in, it is rendering
    (job,) = _sent(member_client, assets, 1)
    time.sleep(3.5)
    before = RenderJob.objects.get(pk=job.pk)
    poller = Poller(owner="busy")
    try:
        poller.claim(time.time())
        _answers(poller)
        with CaptureQueriesContext(connection) as queries:
            poller.flush()
        assert any(q["sql"].lstrip().upper().startswith("WITH") for q in queries)
        after = RenderJob.objects.get(pk=job.pk)
        assert after.status == "processing" and after.progress_pct > 0
        assert after.updated_at > before.updated_at
        assert after.lease_owner == "busy"  # still held: the poller polls it again
    finally:
        poller.shutdown()


def test_sigterm_mid_turn_loses_no_answer_and_no_lease(member_client, assets, viggle_sim):
    viggle_sim.set_speed(SLOW)
    jobs = _sent(member_client, assets, 12)
    worker = QCluster("poller-stop", POLLER_CONCURRENCY="4").start()
    assert worker.process is not None
    try:
        wait_until(
            lambda: sum(len(t) for t in _gets_by_job(viggle_sim).values()) >= 2 * len(jobs),
            timeout=60,
            message="the worker did not poll",
        )
        os.killpg(worker.process.pid, signal.SIGTERM)
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError("qcluster still running 20 s after SIGTERM") from None
    finally:
        worker.kill()
    gets = _gets_by_job(viggle_sim)
    for job in RenderJob.objects.filter(pk__in=[j.pk for j in jobs]):
        # Every answer the simulator gave was counted, every lease given back, and the next
        # poll kept: at least 3 s after the last one.
        assert job.poll_count == len(gets[job.upstream_job_id]), job.pk
        assert job.lease_owner == "" and job.lease_until is None
        assert job.status == "queued"
        assert (job.next_poll_at - max(gets[job.upstream_job_id])).total_seconds() >= 3.0


def test_the_next_poll_lands_just_after_the_predicted_end():
    # 60% at t=100 s, 80% at t=103 s: 20 points in 3 s, so the end is due at t=106 s.
    at = next_poll_time(answered_at=103.0, progress=80, seen_progress=60, seen_at=100.0)
    assert 106.0 < at <= 106.5
    # Far from the end (80 s to go): 3 to 4 s apart, spread so that a poll lands just after it.
    at = next_poll_time(answered_at=100.0, progress=20, seen_progress=10, seen_at=90.0)
    assert 103.0 <= at <= 104.0
    # Nearly done: never sooner than 3 s.
    assert next_poll_time(answered_at=100.0, progress=99, seen_progress=90, seen_at=97.0) == 103.0
    # No progress seen yet (queued): the steady 3.5 s, within Viggle's 3-5 s.
    assert next_poll_time(answered_at=100.0, progress=0, seen_progress=0, seen_at=None) == 103.5
