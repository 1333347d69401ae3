"""Faults in the middle of active renders: a worker machine dies (SIGKILL) and another takes
over; the database restarts; the simulator's fault knobs fire while jobs are polled. Afterwards
every job is in its true final state (what Viggle says happened to it) and the ledger balances:
per job one reserve and exactly one final entry, reserve + settle == credits for the actual
seconds, or reserve + release == 0.

Each test drives real `manage.py qcluster` processes (tests/workers.py) against the simulator on
the live server, and stays under about a minute.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter

import httpx
import pytest
from django.db import connection

from tests.workers import QCluster, wait_until
from viggle_web.renders import services
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.services import credits_for

pytestmark = pytest.mark.django_db(transaction=True)

FAST_LEASES = {"RENDER_LEASE_SECONDS": "3"}


def _submit(owner, character, motion, count: int, prefix: str) -> list[RenderJob]:
    return [
        services.job_submit(
            owner=owner,
            idempotency_key=f"{prefix}-{i:06d}",
            request=services.RenderRequest(character=character, motion=motion),
        )
        for i in range(count)
    ]


def _all_final() -> bool:
    return not RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists()


def assert_ledger_balances() -> None:
    problems = []
    for job in RenderJob.objects.all():
        entries = list(CreditEntry.objects.filter(job=job).values_list("kind", "credits"))
        kinds = Counter(kind for kind, _ in entries)
        total = sum(credits for _, credits in entries)
        finals = kinds["settle"] + kinds["release"]
        if kinds["reserve"] != 1 or finals != 1 or len(entries) != 2:
            problems.append(f"{job.public_id} {job.status}: entries {entries}")
        elif job.status == "complete":
            want = credits_for(job.output_seconds or 0, fast=job.fast)
            if kinds["settle"] != 1 or total != want:
                problems.append(f"{job.public_id} complete: {entries}, want total {want}")
        elif kinds["release"] != 1 or total != 0:
            problems.append(f"{job.public_id} {job.status}: {entries}, want total 0")
    assert not problems, "\n".join(problems)


def assert_true_final_states(sim) -> Counter:
    """Our status is what Viggle says about the job; a job Viggle never saw failed plainly."""
    wrong = []
    for job in RenderJob.objects.all():
        if job.upstream_job_id:
            upstream = httpx.get(f"{sim.base_url}/api/render/{job.upstream_job_id}", timeout=30)
            truth = upstream.json()["status"]
        else:
            truth = "failed"
        if job.status != truth:
            wrong.append(f"{job.public_id}: ours {job.status}, upstream {truth}")
        if job.status == "complete" and not job.output:
            wrong.append(f"{job.public_id}: complete without a kept output")
        if job.status == "failed" and not job.error_message:
            wrong.append(f"{job.public_id}: failed without a message")
    assert not wrong, "\n".join(wrong)
    return Counter(RenderJob.objects.values_list("status", flat=True))


def test_a_killed_worker_and_polling_faults_lose_no_job_and_book_once(member, assets, viggle_sim):
    character, motion = assets
    viggle_sim.set(speed=1.5, fail_next_jobs=1)  # slow: all in flight when the worker dies
    jobs = _submit(member, character, motion, 6, "kill")
    # Polls meet a burst of 503s and a 429 with Retry-After while the first worker runs.
    viggle_sim.fault("503", count=4, method="GET", path_prefix="/api/render/")
    viggle_sim.fault("429", count=2, method="GET", path_prefix="/api/render/", retry_after=1)
    first = QCluster("first", **FAST_LEASES).start()
    try:
        wait_until(
            lambda: RenderJob.objects.filter(upstream_job_id__isnull=False).count() == 6,
            timeout=40,
            message="the jobs were not all sent",
        )
        services.job_cancel(job=RenderJob.objects.get(pk=jobs[-1].pk), actor=member)
        time.sleep(1.0)  # let the worker be mid-poll
    finally:
        first.kill()
    assert RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists()
    # The second worker meets dropped connections and malformed answers too.
    viggle_sim.fault("drop", count=2, method="GET", path_prefix="/api/render/")
    viggle_sim.fault("malformed", count=2, method="GET", path_prefix="/api/render/")
    viggle_sim.set_speed(20)
    second = QCluster("second", **FAST_LEASES).start()
    try:
        wait_until(_all_final, timeout=50, message="jobs still active after the takeover")
    finally:
        second.stop()
    assert len(viggle_sim.creates()) == 6  # nothing was sent twice
    statuses = assert_true_final_states(viggle_sim)
    assert statuses == {"complete": 4, "failed": 1, "cancelled": 1}, statuses
    assert_ledger_balances()


def _pg(*args: str) -> None:
    bin_dir, data = os.environ["PG_TEST_BIN"], os.path.join(os.environ["PG_TEST_DIR"], "data")
    command = [f"{bin_dir}/pg_ctl", "-D", data, *args]
    if os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def _postmaster_started():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]


def _restart_postgres(down_seconds: float) -> None:
    pg_dir, port = os.environ["PG_TEST_DIR"], os.environ["PG_TEST_PORT"]
    _pg("-m", "fast", "-w", "stop")
    time.sleep(down_seconds)
    options = (
        f"-p {port} -k {pg_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _pg("-l", os.path.join(pg_dir, "log"), "-w", "-o", options, "start")


@pytest.mark.skipif(
    not os.environ.get("PG_TEST_DIR"),
    reason="needs the throwaway Postgres of bin/test (PG_TEST_DIR/PG_TEST_BIN/PG_TEST_PORT) "
    "to stop and start it",
)
def test_a_database_restart_mid_render_loses_no_job_and_books_once(member, assets, viggle_sim):
    character, motion = assets
    viggle_sim.set(speed=2, fail_next_jobs=1)
    _submit(member, character, motion, 5, "pgrestart")
    cluster = QCluster("pg", **FAST_LEASES).start()
    try:
        wait_until(
            lambda: RenderJob.objects.filter(upstream_job_id__isnull=False).count() == 5,
            timeout=40,
            message="the jobs were not all sent",
        )
        assert RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists()
        started = _postmaster_started()
        connection.close()
        _restart_postgres(down_seconds=3)
        connection.close()  # the test's own connection died with the server: start afresh
        assert _postmaster_started() != started  # the server really restarted
        viggle_sim.set_speed(20)
        wait_until(_all_final, timeout=60, message="jobs still active after the DB restart")
    finally:
        cluster.stop()
    assert len(viggle_sim.creates()) == 5
    statuses = assert_true_final_states(viggle_sim)
    assert statuses == {"complete": 4, "failed": 1}, statuses
    assert_ledger_balances()
