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
from django.db import close_old_connections, connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from viggle_web.core import qworker
from viggle_web.renders import services
from viggle_web.renders.models import PollerSlot, RenderJob
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import ViggleError
from viggle_web.viggle.types import RenderStatus

logger = logging.getLogger(__name__)

IDLE_SLEEP = 1.0
IDLE_EXIT_SECONDS = 5.0
MIN_SLEEP = 0.05
# At most this many status GETs at once. Measured with bench/poller.py when the client kept only
# 10 idle connections (more concurrent calls then opened a TCP connection per call); the client
# now keeps 32, and 10 concurrent polls remained the measured sweet spot against the simulator.
MAX_CONCURRENT_POLLS = 10
_poll_slots = threading.BoundedSemaphore(MAX_CONCURRENT_POLLS)


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


def _fetch(upstream_id: str) -> tuple[RenderStatus | None, ViggleError | None]:
    with _poll_slots:
        try:
            return get_client().render_status(upstream_id), None
        except ViggleError as exc:
            return None, exc


def _apply_one(job_id: int, owner: str, status, error) -> None:
    """An outcome that changes more than progress (final status, upstream error): the
    service's own transaction, as job_poll would have done after its GET."""
    try:
        if services.job_apply_status(job_id=job_id, owner=owner, status=status, error=error):
            services.job_finish(job_id=job_id, owner=owner)
    except Exception:
        logger.exception("Recording the poll of render %s failed", job_id)
        close_old_connections()


def _is_progress(status: RenderStatus) -> bool:
    return not (status.is_complete or status.is_failed or status.is_cancelled)


# One statement records a whole turn's plain progress answers: what
# services.job_apply_status does for them (count the poll, clear the error streak, keep
# progress monotonic, move queued -> processing, release the lease), guarded like it by
# "still leased to us and still queued/processing". One difference, the next poll's time:
# Viggle's docs ask for a poll every 3-5 s, so when the progress since the previous poll
# says the render ends 3-5 s from now, the next poll is placed just after that end instead
# of at 3 s (which would see it still running and leave the result waiting 3 s more); any
# other case keeps the 3 s interval. bench/time_to_result.py measures the effect.
ALIGN_MARGIN_SECONDS = 0.3
MAX_POLL_SECONDS = 5.0
# Progress rate since the previous poll (its save is updated_at), or since the upstream job
# was created (submitted_at) when no progress had been seen yet: a job's queue time then
# makes the end look later than it is, never earlier, and the 5 s cap bounds that.
_SINCE = "(CASE WHEN j.progress_pct > 0 THEN j.updated_at ELSE j.submitted_at END)"
_ETA = (
    f"((100 - v.progress_pct) * EXTRACT(EPOCH FROM (%(now)s - {_SINCE}))"
    " / NULLIF(v.progress_pct - j.progress_pct, 0) + %(margin)s)"
)
_PROGRESS_SQL = f"""
UPDATE renders_renderjob AS j SET
    poll_count = j.poll_count + 1,
    retrying = false,
    upstream_errors = 0,
    upstream_status = v.upstream_status,
    progress_pct = GREATEST(j.progress_pct, v.progress_pct),
    checkpoint = CASE WHEN v.checkpoint <> '' THEN v.checkpoint ELSE j.checkpoint END,
    status = CASE WHEN v.upstream_status = 'processing' THEN 'processing' ELSE j.status END,
    lease_until = NULL,
    lease_owner = '',
    next_poll_at = %(now)s + make_interval(secs => CASE
        WHEN v.progress_pct > j.progress_pct
             AND {_ETA} > %(interval)s AND {_ETA} <= %(longest)s
        THEN {_ETA} ELSE %(interval)s END),
    updated_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(statuses)s::text[], %(progress)s::int[], %(checkpoints)s::text[])
    AS v(id, upstream_status, progress_pct, checkpoint)
WHERE j.id = v.id AND j.lease_owner = %(owner)s AND j.status IN ('queued', 'processing')
RETURNING j.public_id
"""  # noqa: S608 - constants only; every value is a parameter


def _record_progress(owner: str, answers: list[tuple[int, RenderStatus]]) -> None:
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _PROGRESS_SQL,
            {
                "ids": [job_id for job_id, _ in answers],
                "statuses": [s.status[:32] for _, s in answers],
                "progress": [max(0, min(100, s.progress_pct or 0)) for _, s in answers],
                "checkpoints": [(s.checkpoint or "")[:32] for _, s in answers],
                "owner": owner,
                "now": now,
                "interval": services.POLL_INTERVAL.total_seconds(),
                "longest": MAX_POLL_SECONDS,
                "margin": ALIGN_MARGIN_SECONDS,
            },
        )
        changed = [row[0] for row in cursor.fetchall()]
        if changed:
            # Delivered on commit, like services.notify_job_changed, one per job.
            cursor.execute(
                "SELECT pg_notify(%s, public_id) FROM unnest(%s::text[]) AS public_id",
                [services.NOTIFY_CHANNEL, changed],
            )


def run_once(owner: str, pool: ThreadPoolExecutor) -> int:
    """One turn: claim due jobs, poll them concurrently, record the answers.

    On Postgres the common answer (still queued or processing) is recorded for the whole turn
    in one UPDATE and the threads only make HTTP calls; anything else (a final status, an
    upstream error, a job to send or to finish) goes through the services one job at a time.
    Measured with bench/poller.py: the per-job transactions were the loop's ceiling."""
    ids = services.poll_claim_due(owner=owner, limit=settings.POLLER_BATCH)
    if not ids:
        return 0
    if connection.vendor != "postgresql":
        list(pool.map(lambda job_id: _work(job_id, owner), ids))
        return len(ids)
    rows = RenderJob.objects.filter(pk__in=ids, lease_owner=owner).values_list(
        "pk", "status", "upstream_job_id"
    )
    pollable = {RenderJob.Status.QUEUED, RenderJob.Status.PROCESSING}
    to_poll = [(pk, upstream) for pk, status, upstream in rows if status in pollable and upstream]
    others = [pk for pk, status, upstream in rows if not (status in pollable and upstream)]
    answers = list(pool.map(lambda job: _fetch(job[1]), to_poll))
    progress = []
    special = []
    for (job_id, _), (status, error) in zip(to_poll, answers, strict=True):
        if error is None and status is not None and _is_progress(status):
            progress.append((job_id, status))
        else:
            special.append((job_id, status, error))
    if progress:
        try:
            _record_progress(owner, progress)
        except Exception:
            # Nothing recorded: the leases run out and the jobs are polled again.
            logger.exception("Recording %d polls failed", len(progress))
            close_old_connections()
    work = [lambda job=job: _apply_one(job[0], owner, job[1], job[2]) for job in special]
    work += [lambda job_id=job_id: _work(job_id, owner) for job_id in others]
    if work:
        list(pool.map(lambda fn: fn(), work))
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
    # A worker asked to stop (SIGTERM) ends the loop after the current turn, freeing its slot.
    stop = stop or qworker.STOPPING
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
            while time.monotonic() < deadline and not stop.is_set():
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
                stop.wait(min(seconds_until_next_due(), max(0.0, deadline - time.monotonic())))
            _close_thread_connections(pool, settings.POLLER_THREADS)
    finally:
        if slot is not None:
            PollerSlot.objects.filter(pk=slot, owner=owner).update(owner="", lease_until=None)
        from django.db import connection

        connection.close()
    return worked
