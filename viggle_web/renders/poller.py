"""The poller: a loop that runs inside a django-q2 worker for a bounded time.

django-q2 schedules fire at most once a minute, so a schedule starts this loop every minute and
the loop runs a little under that. Each turn claims due jobs (leases, so several loops on several
machines never work on one job), works on them concurrently in a thread pool (polls are I/O),
then sleeps until the next job is due. A loop that dies leaves leases that simply run out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Min, Q
from django.utils import timezone

from viggle_web.renders import services
from viggle_web.renders.models import PollerSlot, RenderJob

logger = logging.getLogger(__name__)

IDLE_SLEEP = 1.0
IDLE_EXIT_SECONDS = 5.0
MIN_SLEEP = 0.05


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _work(job_id: int, owner: str) -> None:
    try:
        services.job_poll(job_id=job_id, owner=owner)
    except Exception:
        # One bad job must not stop the loop; its lease runs out and it is tried again.
        logger.exception("Polling render %s failed", job_id)
        # Only after a failure: a broken connection must not poison this thread's next jobs.
        # Not after every job: with CONN_HEALTH_CHECKS that re-arms a "SELECT 1" round trip
        # before the next job's first query (bench/poller.py: one query in four per poll).
        # The loop is shorter than CONN_MAX_AGE and closes its threads' connections at the end.
        close_old_connections()


def _extra_work() -> int:
    """Other due upstream work (gallery preprocessing) shares the loop when that app has it."""
    try:
        from viggle_web.assets.services import resource_poll_due
    except ImportError:
        return 0
    try:
        return resource_poll_due()
    except Exception:
        logger.exception("Polling gallery preprocessing failed")
        return 0


def run_once(owner: str, pool: ThreadPoolExecutor) -> int:
    ids = services.poll_claim_due(owner=owner, limit=settings.POLLER_BATCH)
    if ids:
        list(pool.map(lambda job_id: _work(job_id, owner), ids))
    return len(ids)


def seconds_until_next_due() -> float:
    next_due = RenderJob.objects.filter(status__in=RenderJob.ACTIVE).aggregate(
        due=Min("next_poll_at")
    )["due"]
    if next_due is None:
        return IDLE_SLEEP
    return max(MIN_SLEEP, min(IDLE_SLEEP, (next_due - timezone.now()).total_seconds()))


def _slot_lease() -> timedelta:
    return timedelta(seconds=settings.POLLER_SLOT_LEASE_SECONDS)


def _close_thread_connections(pool: ThreadPoolExecutor, threads: int) -> None:
    """Close the database connection each pool thread opened. A barrier makes every thread take
    exactly one of the closing tasks."""
    from django.db import connection

    barrier = threading.Barrier(threads)

    def close() -> None:
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        connection.close()

    list(pool.map(lambda _: close(), range(threads)))


def claim_slot(owner: str) -> int | None:
    """Take a free poller slot (or one whose loop died); None when all are busy."""
    now = timezone.now()
    for slot_id in range(1, settings.POLLER_SLOTS + 1):
        PollerSlot.objects.get_or_create(pk=slot_id)
        free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        if PollerSlot.objects.filter(free, pk=slot_id).update(
            owner=owner, lease_until=now + _slot_lease()
        ):
            return slot_id
    return None


def has_active_work() -> bool:
    """Whether any render is still in flight (the loop has reason to keep running)."""
    return RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists()


def is_running() -> bool:
    """Whether some poll loop holds a live slot."""
    return PollerSlot.objects.filter(lease_until__gt=timezone.now()).exists()


def _renew(slot_id: int, owner: str) -> bool:
    return bool(
        PollerSlot.objects.filter(pk=slot_id, owner=owner).update(
            lease_until=timezone.now() + _slot_lease()
        )
    )


def run_loop(
    *, seconds: float, owner: str | None = None, stop=None, need_slot: bool = True
) -> int | None:
    """Poll for up to ``seconds``. Returns how many job turns were worked, or None when every
    poller slot was taken (another loop is already on duty)."""
    owner = owner or worker_name()
    slot = claim_slot(owner) if need_slot else None
    if need_slot and slot is None:
        return None
    deadline = time.monotonic() + seconds
    worked = 0
    idle_since: float | None = None
    try:
        with ThreadPoolExecutor(
            max_workers=settings.POLLER_THREADS, thread_name_prefix="poller"
        ) as pool:
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                if slot is not None and not _renew(slot, owner):
                    break  # our slot lease ran out and another loop took over
                count = run_once(owner, pool)
                worked += count
                extra = _extra_work()
                if count >= settings.POLLER_BATCH or extra:
                    continue
                if count == 0 and not has_active_work():
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= IDLE_EXIT_SECONDS:
                        break  # nothing to do: free the worker; a new send starts a loop
                else:
                    idle_since = None
                time.sleep(min(seconds_until_next_due(), max(0.0, deadline - time.monotonic())))
            _close_thread_connections(pool, settings.POLLER_THREADS)
    finally:
        if slot is not None:
            PollerSlot.objects.filter(pk=slot, owner=owner).update(owner="", lease_until=None)
        from django.db import connection

        connection.close()
    return worked
