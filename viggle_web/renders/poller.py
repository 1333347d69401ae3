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
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections
from django.db.models import Min
from django.utils import timezone

from viggle_web.renders import services
from viggle_web.renders.models import RenderJob

logger = logging.getLogger(__name__)

BATCH = int(os.environ.get("POLLER_BATCH", "200"))
THREADS = int(os.environ.get("POLLER_THREADS", "16"))
IDLE_SLEEP = 1.0
MIN_SLEEP = 0.05


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _work(job_id: int, owner: str) -> None:
    try:
        services.job_poll(job_id=job_id, owner=owner)
    except Exception:
        # One bad job must not stop the loop; its lease runs out and it is tried again.
        logger.exception("Polling render %s failed", job_id)
    finally:
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
    ids = services.poll_claim_due(owner=owner, limit=BATCH)
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


def run_loop(*, seconds: float, owner: str | None = None, stop=None) -> int:
    """Poll for up to ``seconds``; returns how many job turns were worked."""
    owner = owner or worker_name()
    deadline = time.monotonic() + seconds
    worked = 0
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="poller") as pool:
        while time.monotonic() < deadline and not (stop and stop.is_set()):
            count = run_once(owner, pool)
            worked += count
            extra = _extra_work()
            if count >= BATCH or extra:
                continue
            time.sleep(min(seconds_until_next_due(), max(0.0, deadline - time.monotonic())))
    close_old_connections()
    return worked
