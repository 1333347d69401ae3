"""The poller: ONE long-running loop per worker process that follows every render upstream and
every gallery preprocessing (characters, scenes, template imports) until it is ready or failed.
It runs in the main process of `manage.py qcluster` (registered with core.qworker, stopped by
the same SIGTERM), like healthchecks' ``sendalerts``. Details: docs/architecture.md, "The poller".

* **One lease** (core.leases.lease_claim_due): two loops never hold one row; a loop that dies
  lets its leases run out and another takes them over.
* **Held renders.** A claimed queued/processing render stays in memory with its next poll time;
  all leases are renewed in one UPDATE every third of the lease. An unchanged answer writes
  nothing; a changed one is written within ``FLUSH_SECONDS``, many per statement, with NOTIFY
  and ``job_changed``. Status GETs go through ``viggle.status_fetch`` (one asyncio thread, kept
  connections); answers come back in batches.
* **Scheduling** (``next_poll_time``): from the answer's arrival, 3.5 s while the end cannot be
  predicted, polls at most 4 s apart placed so one lands just after a predicted end, never
  sooner than 3 s; end-catching polls go out first when the loop runs late.
* **Everything else** (a final status or an error, a send, a finish, a preprocessing poll) goes
  through the services in a side pool, one job at a time.
* **Stopping.** The loop stops sending, waits briefly for answers in flight, writes what changed
  and releases every lease with its next poll time.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F

from viggle_web.assets import services as asset_services
from viggle_web.core import leases
from viggle_web.renders import services, states
from viggle_web.renders.models import RenderJob
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import ViggleError
from viggle_web.viggle.status_fetch import Result, StatusFetcher, os_thread_name
from viggle_web.viggle.types import RenderStatus

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 0.5  # how often the loop looks for newly due work
FLUSH_SECONDS = 0.05  # a changed answer waits at most this long to be written
TURN_SECONDS = 0.02  # a due poll waits at most this long to go out with others
STOP_GRACE_SECONDS = 1.0  # answers in flight awaited after a stop was asked
ALIGN_MARGIN_SECONDS = 0.25  # poll this long after a predicted end
# Viggle's docs: poll every 3-5 s. Counted from an answer's arrival, so the gap between two
# requests is this plus the answer's time: a job whose end cannot be predicted yet is asked 3.5 s
# after its answer; polls spread towards a predicted end stay at most 4 s apart.
STEADY_POLL_SECONDS = 3.5
MAX_POLL_SECONDS = 4.0
POLLABLE = (RenderJob.Status.QUEUED, RenderJob.Status.PROCESSING)
_CLAIMED_FIELDS = (
    "status",
    "upstream_job_id",
    "upstream_status",
    "progress_pct",
    "checkpoint",
    "updated_at",
)


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def next_poll_time(
    *, answered_at: float, progress: int, seen_progress: int, seen_at: float | None
) -> float:
    """When to ask about a job again, from its answer's arrival (epoch seconds).

    Never sooner than POLL_INTERVAL (3 s) after the answer; STEADY_POLL_SECONDS (3.5 s) when the
    end cannot be predicted. When the progress gained since ``seen_at`` (when ``seen_progress``
    was seen) predicts the end, the poll is placed just after it, with at most MAX_POLL_SECONDS
    between polls: a render ending 4.2 s from now is asked about at 4.45 s, not at 3 s (still
    running) and then 6 s; one ending within 3 s is asked about at 3 s.
    """
    end = predicted_end(
        answered_at=answered_at, progress=progress, seen_progress=seen_progress, seen_at=seen_at
    )
    return poll_after(answered_at, end)


def poll_after(answered_at: float, end: float | None) -> float:
    """next_poll_time, from the predicted end (None: not predictable)."""
    interval = services.POLL_INTERVAL.total_seconds()
    earliest = answered_at + interval
    if end is None:
        return answered_at + STEADY_POLL_SECONDS
    remaining = end + ALIGN_MARGIN_SECONDS - answered_at
    if remaining <= interval:
        return earliest
    steps = math.ceil(remaining / MAX_POLL_SECONDS)
    return answered_at + min(MAX_POLL_SECONDS, max(interval, remaining / steps))


def predicted_end(
    *, answered_at: float, progress: int, seen_progress: int, seen_at: float | None
) -> float | None:
    """When the render should end (epoch seconds), from the progress gained since ``seen_at``."""
    if seen_at is None or seen_progress <= 0 or not 0 < progress - seen_progress:
        return None
    elapsed = answered_at - seen_at
    if elapsed <= 0 or progress >= 100:
        return None
    return answered_at + (100 - progress) * elapsed / (progress - seen_progress)


@dataclass(slots=True)
class Held:
    """A render this loop holds the lease of, with what it last wrote."""

    id: int
    upstream: str
    status: str
    upstream_status: str
    progress: int
    checkpoint: str
    seen_progress: int  # the first progress seen above 0, and when it came (the rate's baseline)
    seen_at: float | None
    due: float
    written_status: str = ""  # the status the row has (for job_changed's old_status)
    polls: int = 0  # polls not yet counted in the row's poll_count
    in_flight: bool = False
    dirty: bool = False


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _is_progress(status: RenderStatus) -> bool:
    return not (status.is_complete or status.is_failed or status.is_cancelled)


class Poller:
    """One loop's state. ``run`` until ``stop`` is set (or ``seconds`` pass)."""

    def __init__(self, *, owner: str | None = None, stop: threading.Event | None = None) -> None:
        self.owner = owner or worker_name()
        self.stop = stop or threading.Event()
        self.concurrency = settings.POLLER_CONCURRENCY
        self.lease = services.lease_time()
        self.held: dict[int, Held] = {}
        self.dirty: set[int] = set()
        self.schedule: list[tuple[float, int]] = []
        # Polls placed just after a predicted end go first when the loop runs late.
        self.aligned: list[tuple[float, int]] = []
        # Status answers arrive in batches from the fetcher's thread (one asyncio loop keeping
        # POLLER_CONCURRENCY connections: viggle/status_fetch.py), not a thread per request.
        self.answers: queue.SimpleQueue[list[Result]] = queue.SimpleQueue()
        self.in_flight = 0
        self.polls = 0
        self.last_flush = 0.0
        self.last_turn = 0.0
        self.next_claim = 0.0
        self.next_renew = 0.0
        self.next_report = 0.0
        self.fetcher = StatusFetcher(get_client(), connections=self.concurrency)
        self.retired: list[StatusFetcher] = []
        # Services work (final answers, sends, finishes, preprocessing polls): transactions
        # and downloads that must not hold up the status polls.
        self.side = _named_pool(settings.POLLER_SIDE_THREADS, "poll-side")
        # job_changed receivers (webhooks, notifications) run here, in order, after the commit:
        # a slow receiver delays its events, never the polls.
        self.announcer = _named_pool(1, "poll-announce")
        self.side_busy: set[int] = set()
        self.side_lock = threading.Lock()

    # --- the loop ------------------------------------------------------------------------------

    def run(self, seconds: float | None = None) -> int:
        deadline = None if seconds is None else time.monotonic() + seconds
        os_thread_name("poller")
        try:
            while not self.stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self.turn()
        finally:
            self.shutdown()
        return self.polls

    def turn(self) -> None:
        now = self.last_turn = time.time()
        if now >= self.next_report:
            self.next_report = now + 10
            logger.debug(
                "poller %s: %d held, %d in flight, %d scheduled, %d polls",
                self.owner,
                len(self.held),
                self.in_flight,
                len(self.schedule),
                self.polls,
            )
        try:
            if now >= self.next_claim:
                claimed = self.claim(now)
                self.next_claim = now + (0 if claimed >= settings.POLLER_BATCH else CLAIM_SECONDS)
            if self.held and now >= self.next_renew:
                self.renew()
                self.next_renew = now + self.lease.total_seconds() / 3
        except Exception:
            logger.exception("The poller could not read or renew its work")
            close_old_connections()
            self.stop.wait(1.0)
        self.dispatch(time.time())
        self.receive(self.wait_seconds())
        if self.due_to_flush():
            self.flush()

    def wait_seconds(self) -> float:
        now = time.time()
        until = self.next_claim
        if self.in_flight < self.concurrency:
            for heap in (self.aligned, self.schedule):
                if heap:
                    until = min(until, heap[0][0])
        if self.dirty:
            until = min(until, self.last_flush + FLUSH_SECONDS)
        # Polls falling due within TURN_SECONDS go out together: one wake-up of this loop and
        # of the fetcher's for several polls instead of one each (at 500 polls/s, one every
        # 2 ms), for a delay of at most TURN_SECONDS.
        until = max(until, self.last_turn + TURN_SECONDS)
        return max(0.0, min(CLAIM_SECONDS, until - now))

    def due_to_flush(self) -> bool:
        return time.time() - self.last_flush >= FLUSH_SECONDS

    # --- claiming ------------------------------------------------------------------------------

    def claim(self, now: float) -> int:
        client = get_client()
        if client is not self.fetcher.client:  # settings changed: answers in flight still come
            self.retired.append(self.fetcher)
            self.fetcher = StatusFetcher(client, connections=self.concurrency)
        rows = leases.lease_claim_due(
            RenderJob.objects.filter(status__in=RenderJob.ACTIVE),
            owner=self.owner,
            lease=self.lease,
            limit=settings.POLLER_BATCH,
            returning=_CLAIMED_FIELDS,
            now=_at(now),
        )
        for pk, status, upstream, upstream_status, progress, checkpoint, updated_at in rows:
            if status in POLLABLE and upstream:
                self.hold(
                    Held(
                        id=pk,
                        upstream=upstream,
                        status=status,
                        upstream_status=upstream_status,
                        progress=progress,
                        checkpoint=checkpoint,
                        seen_progress=progress,
                        seen_at=_epoch(updated_at) if progress > 0 else None,
                        due=now,
                        written_status=status,
                    )
                )
            else:  # to send, or to finish: the services' own path
                self.side_submit(pk, lambda pk=pk: services.job_poll(job_id=pk, owner=self.owner))
        resources = asset_services.resource_claim_due(owner=self.owner, limit=settings.POLLER_BATCH)
        for pk in resources:
            self.side_submit(-pk, lambda pk=pk: asset_services.resource_poll(resource_id=pk))
        return len(rows)

    def hold(self, job: Held) -> None:
        self.held[job.id] = job
        heapq.heappush(self.schedule, (job.due, job.id))

    def renew(self) -> None:
        kept = leases.lease_renew(
            RenderJob.objects.filter(pk__in=list(self.held), status__in=POLLABLE),
            owner=self.owner,
            lease=self.lease,
        )
        for pk in set(self.held) - kept:
            # Cancelled, sent back by an admin, or taken over after our lease ran out.
            self.drop(pk)

    def drop(self, pk: int) -> Held | None:
        self.dirty.discard(pk)
        return self.held.pop(pk, None)

    # --- polling -------------------------------------------------------------------------------

    def dispatch(self, now: float) -> None:
        batch: list[tuple[int, str]] = []
        held = self.held
        room = self.concurrency - self.in_flight
        for heap in (self.aligned, self.schedule):
            while heap and room > 0 and heap[0][0] <= now:
                due, pk = heapq.heappop(heap)
                job = held.get(pk)
                if job is None or job.due != due or job.in_flight:
                    continue  # dropped, or rescheduled since
                job.in_flight = True
                room -= 1
                batch.append((pk, job.upstream))
        if batch:
            self.in_flight += len(batch)
            self.fetcher.fetch_many(batch, self.answers.put)

    def receive(self, timeout: float) -> None:
        try:
            answers = (
                self.answers.get(timeout=timeout) if timeout > 0 else self.answers.get_nowait()
            )
        except queue.Empty:
            return
        while True:
            for answer in answers:
                self.record(*answer)
            try:
                answers = self.answers.get_nowait()
            except queue.Empty:
                return

    def record(
        self,
        job_id: int,
        status: RenderStatus | None,
        error: ViggleError | None,
        answered_at: float,
    ) -> None:
        self.in_flight -= 1
        self.polls += 1
        job = self.held.get(job_id)
        if job is None:
            return  # let go while its poll was in flight
        job.in_flight = False
        job.polls += 1
        if error is not None or status is None or not _is_progress(status):
            self.drop(job.id)
            self.side_submit(job.id, lambda: self.settle(job, status, error))
            return
        progress = max(job.progress, min(100, max(0, status.progress_pct or 0)))
        new = (
            RenderJob.Status.PROCESSING if status.status == "processing" else job.status,
            (status.status or "")[:32],
            progress,
            (status.checkpoint or job.checkpoint)[:32],
        )
        end = predicted_end(
            answered_at=answered_at,
            progress=progress,
            seen_progress=job.seen_progress,
            seen_at=job.seen_at,
        )
        job.due = poll_after(answered_at, end)
        if job.seen_at is None or job.seen_progress <= 0:
            # The baseline of the rate is the first progress seen, not the previous answer's:
            # over the whole render, whole-percent steps hardly move the predicted end (over one
            # 3.5 s interval one step is several percent of the rate, a few tenths of a second).
            job.seen_progress, job.seen_at = progress, answered_at
        if new != (job.status, job.upstream_status, job.progress, job.checkpoint):
            job.status, job.upstream_status, job.progress, job.checkpoint = new
            job.dirty = True
            self.dirty.add(job.id)
        aligned = end is not None and end + ALIGN_MARGIN_SECONDS <= job.due + 0.001
        heapq.heappush(self.aligned if aligned else self.schedule, (job.due, job.id))

    # --- writing -------------------------------------------------------------------------------

    def flush(self, *, release: bool = False) -> None:
        """Write the changed jobs (all held jobs when releasing) in one statement."""
        self.last_flush = time.time()
        if release:
            jobs = list(self.held.values())
        else:
            jobs = [self.held[pk] for pk in self.dirty]
        if not jobs:
            return
        try:
            changed = states.jobs_record_polls(
                owner=self.owner, jobs=jobs, release=release, announce_in=self.announcer
            )
        except Exception:
            # Nothing written: the answers are asked again; the leases run out if this lasts.
            logger.exception("Recording %d polls failed", len(jobs))
            close_old_connections()
            return
        for job in jobs:
            job.dirty = False
            job.polls = 0
            job.written_status = job.status
            self.dirty.discard(job.id)
            if job.id not in changed:
                self.drop(job.id)  # someone else changed it: not ours any more

    def settle(self, job: Held, status: RenderStatus | None, error: ViggleError | None) -> None:
        """A final status or an upstream error: the services' transaction, as one poll."""
        if job.polls > 1:
            RenderJob.objects.filter(pk=job.id, lease_owner=self.owner).update(
                poll_count=F("poll_count") + job.polls - 1
            )
        if services.job_apply_status(job_id=job.id, owner=self.owner, status=status, error=error):
            services.job_finish(job_id=job.id, owner=self.owner)

    def side_submit(self, key: int, work: Callable[[], None]) -> None:
        with self.side_lock:
            if key in self.side_busy:
                return
            self.side_busy.add(key)

        def run() -> None:
            try:
                work()
            except Exception:
                # One bad job must not stop the loop; its lease runs out and it is tried again.
                logger.exception("Poller work on %s failed", key)
                close_old_connections()
            finally:
                with self.side_lock:
                    self.side_busy.discard(key)

        self.side.submit(run)

    # --- stopping ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self.in_flight > 0 and time.monotonic() < deadline:
            self.receive(max(0.0, deadline - time.monotonic()))
        self.flush()
        self.flush(release=True)
        for fetcher in (self.fetcher, *self.retired):
            fetcher.close()
        _close_thread_connections(self.side, settings.POLLER_SIDE_THREADS)
        self.side.shutdown(wait=True, cancel_futures=True)
        _close_thread_connections(self.announcer, 1)
        self.announcer.shutdown(wait=True)
        connection.close()


def _named_pool(threads: int, name: str) -> ThreadPoolExecutor:
    """Threads named for the OS too (bench/poller.py reads their CPU by name)."""
    return ThreadPoolExecutor(
        threads, thread_name_prefix=name, initializer=os_thread_name, initargs=(name,)
    )


def _close_thread_connections(pool: ThreadPoolExecutor, threads: int) -> None:
    """Close the database connection each pool thread opened (after the work queued before).
    A barrier makes every thread take exactly one of the closing tasks."""
    barrier = threading.Barrier(threads)

    def close() -> None:
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        connection.close()

    for _ in range(threads):
        pool.submit(close)


def run_loop(*, seconds: float | None = None, owner: str | None = None, stop=None) -> int:
    """Poll until ``stop`` is set (or for ``seconds``). Returns how many status polls it made."""
    return Poller(owner=owner, stop=stop).run(seconds)
