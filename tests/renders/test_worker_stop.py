"""Stopping the worker the way platforms do: SIGTERM to every process of `qcluster` at once
(Procfile platforms and systemd's default KillMode=control-group send it to the whole group).

django-q2's main process then waited forever on its sentinel (killed while waiting on a shared
event), leaving a defunct child. The worker must stop within a few seconds, and the renders it
was working on must be either finished or free for another worker to take at once.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.db.models import Sum
from django.utils import timezone

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.workers import QCluster, wait_until
from viggle_web.renders import services
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)

STOP_WITHIN_SECONDS = 8.0


def _group_members(pgid: int) -> list[int]:
    """Live (not defunct) processes of a process group, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry))
    return members


def _submit(owner, tmp_path, count: int) -> list[RenderJob]:
    character = asset_with_file(owner=owner, kind="image", path=make_png(tmp_path / "c.png"))
    motion = asset_with_file(
        owner=owner, kind="video", path=make_mp4(tmp_path / "m.mp4", seconds=2.0, fps=8)
    )
    return [
        services.job_submit(
            owner=owner,
            idempotency_key=f"stop-{i:04d}",
            request=services.RenderRequest(character=character, motion=motion),
        )
        for i in range(count)
    ]


def test_sigterm_to_the_whole_worker_group_stops_it_and_another_worker_finishes(
    member, tmp_path, viggle_sim
):
    viggle_sim.set_speed(1)  # renders take a while: the poll loop is busy when the signal lands
    jobs = _submit(member, tmp_path, 4)
    first = QCluster("first", Q_WORKERS="3").start()
    assert first.process is not None
    pgid = first.process.pid
    try:
        wait_until(
            lambda: RenderJob.objects.filter(poll_count__gt=0).count() == len(jobs),
            timeout=60,
            message="renders were not sent and polled",
        )
        started = time.monotonic()
        os.killpg(pgid, signal.SIGTERM)
        try:
            first.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError("qcluster still running 20 s after SIGTERM") from None
        wait_until(
            lambda: not _group_members(pgid),
            timeout=STOP_WITHIN_SECONDS,
            message=f"worker processes left behind: {_group_members(pgid)}",
        )
        elapsed = time.monotonic() - started
    finally:
        first.kill()
    assert elapsed < STOP_WITHIN_SECONDS, elapsed
    assert RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists()
    # Nothing is held by the stopped worker (with the default 120 s leases another worker would
    # otherwise wait two minutes).
    now = timezone.now()
    assert not RenderJob.objects.filter(lease_until__gt=now).exists()

    viggle_sim.set_speed(40)
    second = QCluster("second").start()
    try:
        wait_until(
            lambda: not RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists(),
            timeout=90,
            message="another worker did not finish the renders",
        )
    finally:
        second.stop()
    assert set(RenderJob.objects.values_list("status", flat=True)) == {"complete"}
    assert len(viggle_sim.creates()) == len(jobs)  # nothing sent twice
    for job in RenderJob.objects.all():
        total = CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"]
        assert total == math.ceil(job.output_seconds - 1e-6)


def test_sigterm_to_the_main_process_alone_stops_every_worker_process(member, tmp_path, viggle_sim):
    """`kill <pid>` (or docker stop, which signals PID 1 only) stops the whole cluster too,
    without waiting for the poller's answers in flight for long."""
    viggle_sim.set_speed(1)
    _submit(member, tmp_path, 1)
    first = QCluster("alone", Q_WORKERS="2").start()
    assert first.process is not None
    pgid = first.process.pid
    try:
        wait_until(
            lambda: RenderJob.objects.filter(poll_count__gt=0).exists(),
            timeout=60,
            message="the render was not polled",
        )
        started = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        first.process.wait(timeout=20)
        wait_until(lambda: not _group_members(pgid), timeout=STOP_WITHIN_SECONDS)
        assert time.monotonic() - started < STOP_WITHIN_SECONDS
    finally:
        first.kill()
