"""The render state machine: the one table of allowed moves and the one function that makes them.

Every change of ``RenderJob.status`` (and every progress update, which is a move to the same
status) goes through :func:`job_transition`. It applies the move with a conditional UPDATE
(``WHERE pk = … AND status = <what the row was> [AND lease_owner = <holder>]``), so a writer
whose picture of the job is stale (it expects ``queued``, the row is already ``cancelled``)
changes nothing and is told so (``None``). In the same transaction it books the ledger where the
move needs it (the release of the reservation when a job fails or is cancelled, the settlement
when it completes; the reservation itself is booked when the job is born, in ``job_submit``), and
it announces the change: ``pg_notify`` for the live streams (delivered on commit) and the one
event ``signals.job_changed`` after commit, to which the apps above subscribe.

A plain table rather than django-fsm-2: see docs/architecture.md ("The render state machine").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from django.db import connection, transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.core.errors import Conflict
from viggle_web.renders import signals
from viggle_web.renders.models import RenderJob
from viggle_web.usage import services as ledger
from viggle_web.usage.services import JobCharge

NOTIFY_CHANNEL = "viggle_render_updates"

S = RenderJob.Status
RELEASE = "release"
SETTLE = "settle"


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    by: str
    ledger: str = ""


# The allowed moves. A move to the same status records progress or worker bookkeeping (retrying,
# the next poll) and still announces the change. docs/architecture.md shows this table.
MOVES: tuple[Move, ...] = (
    Move(S.PENDING, S.PENDING, "job_send: Viggle busy or unreachable, send again later"),
    Move(S.PENDING, S.QUEUED, "job_send: Viggle accepted the render"),
    Move(S.PENDING, S.FAILED, "job_send: Viggle refused it, or its input files are gone", RELEASE),
    Move(S.PENDING, S.ATTENTION, "job_send: the create call's outcome is unknown"),
    Move(S.PENDING, S.CANCELLED, "job_cancel (member or admin)", RELEASE),
    Move(S.QUEUED, S.QUEUED, "job_apply_status: a poll (progress, retry after an error)"),
    Move(S.QUEUED, S.PROCESSING, "job_apply_status: Viggle started rendering"),
    Move(S.QUEUED, S.FINISHING, "job_apply_status: Viggle finished, result to fetch"),
    Move(S.QUEUED, S.FAILED, "job_apply_status: Viggle failed it or refused the poll", RELEASE),
    Move(S.QUEUED, S.CANCELLED, "job_cancel, or cancelled upstream (poll)", RELEASE),
    Move(S.PROCESSING, S.PROCESSING, "job_apply_status: a poll (progress, retry after an error)"),
    Move(S.PROCESSING, S.FINISHING, "job_apply_status: Viggle finished, result to fetch"),
    Move(S.PROCESSING, S.FAILED, "job_apply_status: Viggle failed it", RELEASE),
    Move(S.PROCESSING, S.CANCELLED, "job_cancel, or cancelled upstream (poll)", RELEASE),
    Move(S.FINISHING, S.FINISHING, "job_finish: the download failed, try again later"),
    Move(S.FINISHING, S.COMPLETE, "job_finish: result stored, seconds known", SETTLE),
    Move(S.FINISHING, S.FAILED, "job_finish: the result could not be fetched", RELEASE),
    Move(S.ATTENTION, S.QUEUED, "job_resolve_send: an admin linked the Viggle job"),
    Move(S.ATTENTION, S.FAILED, "job_resolve_send: an admin released the credits", RELEASE),
)

ALLOWED: dict[str, frozenset[str]] = {
    status: frozenset(m.target for m in MOVES if m.source == status) for status in S.values
}
LEDGER: dict[tuple[str, str], str] = {(m.source, m.target): m.ledger for m in MOVES if m.ledger}


class IllegalTransition(Conflict):
    """A move the table does not allow (a programming error, not a stale writer)."""

    default_code = "illegal_transition"


@dataclass(frozen=True)
class Changed:
    """What a transition did; also the kwargs of ``signals.job_changed``."""

    job_id: int
    old_status: str
    new_status: str
    progress: int


def sources_of(target: str) -> frozenset[str]:
    return frozenset(m.source for m in MOVES if m.target == target)


def charge_of(job: RenderJob) -> JobCharge:
    """What the ledger needs to know of a job (its owner is loaded if not already)."""
    return JobCharge(
        job_id=job.pk, user=job.owner, estimate=job.estimate_credits, model=job.model, fast=job.fast
    )


def notify_job_changed(job: RenderJob) -> None:
    """Wake the live streams. On Postgres, NOTIFY is delivered when the transaction commits;
    on SQLite the streams poll ``updated_at`` instead."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, job.public_id])


def announce(change: Changed) -> None:
    """Send the one event once the caller's transaction commits."""
    transaction.on_commit(
        lambda: signals.job_changed.send(
            RenderJob,
            job_id=change.job_id,
            old_status=change.old_status,
            new_status=change.new_status,
            progress=change.progress,
        )
    )


_READ = (
    "public_id",
    "status",
    "progress_pct",
    "owner_id",
    "estimate_credits",
    "model",
    "fast",
    "upstream_job_id",
    "lease_owner",
)


def job_transition(
    job_id: int,
    to: str,
    *,
    expect: str | Iterable[str] | None = None,
    holder: str | None = None,
    fields: Mapping[str, Any] | None = None,
    progress: int | None = None,
    reason: str = "",
    output_seconds: float | None = None,
) -> Changed | None:
    """Move job ``job_id`` to status ``to`` (the same status for progress or bookkeeping).

    ``expect``: the status (or statuses) the caller believes the job has; by default any status
    the table allows into ``to``. ``holder``: the lease owner the row must still have.
    ``fields``: other columns written in the same UPDATE. ``progress``: the new progress,
    kept monotonic (never lower than before). ``reason`` (release) and ``output_seconds``
    (settle) are the ledger's, for the moves that book it.

    Returns what changed, or ``None`` when the job is not (any longer) what the caller expected:
    then nothing was written. Raises :class:`IllegalTransition` when the table does not allow
    the move from what the caller expected."""
    allowed = sources_of(to)
    if expect is not None:
        expected = frozenset([expect] if isinstance(expect, str) else expect)
        illegal = sorted(s for s in expected if to not in ALLOWED.get(s, frozenset()))
        if illegal:
            raise IllegalTransition(
                f"A render cannot go from {', '.join(illegal)} to {to}.", extra={"to": to}
            )
        allowed &= expected
    with transaction.atomic():
        job = (
            RenderJob.objects.select_for_update(of=("self",)).filter(pk=job_id).only(*_READ).first()
        )
        if job is None or job.status not in allowed:
            return None
        if holder is not None and job.lease_owner != holder:
            return None
        old_status, old_progress = job.status, job.progress_pct
        new_progress = old_progress
        if progress is not None:
            new_progress = max(old_progress, min(100, max(0, int(progress))))
        values = dict(fields or {})
        values.update(status=to, progress_pct=new_progress, updated_at=timezone.now())
        guard = RenderJob.objects.filter(pk=job_id, status=old_status)
        if holder is not None:
            guard = guard.filter(lease_owner=holder)
        if guard.update(**values) != 1:
            return None  # changed under us (SQLite has no row lock): nothing written
        booking = LEDGER.get((old_status, to))
        if booking:
            job.owner = User.objects.get(pk=job.owner_id)
            if booking == RELEASE:
                ledger.credit_release(charge=charge_of(job), reason=reason or to)
            else:
                if output_seconds is None:
                    raise TypeError("a move to complete needs output_seconds for the ledger")
                ledger.credit_settle(charge=charge_of(job), output_seconds=output_seconds)
        notify_job_changed(job)
        change = Changed(job_id, old_status, to, new_progress)
        if (old_status, old_progress) != (to, new_progress):
            announce(change)
        if to == S.COMPLETE and old_status != S.COMPLETE:
            transaction.on_commit(lambda: signals.job_completed.send(RenderJob, job_id=job_id))
    return change


# --- the poller's batched answers -----------------------------------------------------------------

POLLABLE = (S.QUEUED, S.PROCESSING)
# The moves a plain poll answer can make: the table's, between the pollable statuses.
POLL_MOVES = tuple((m.source, m.target) for m in MOVES if {m.source, m.target} <= set(POLLABLE))


class PollAnswer(Protocol):
    """What the poller holds of a job: the answer to write (``renders.poller.Held``)."""

    id: int
    status: str
    upstream_status: str
    progress: int
    checkpoint: str
    due: float  # the next poll, seconds since the epoch
    polls: int
    dirty: bool
    written_status: str


def jobs_record_polls(
    *,
    owner: str,
    jobs: Sequence[PollAnswer],
    release: bool,
    announce_in: Executor | None = None,
) -> set[int]:
    """The batched form of :func:`job_transition`, for the poller's plain answers (still queued or
    processing): many jobs in one statement. Only the moves the table allows between ``queued``
    and ``processing`` are made (``POLL_MOVES``), on rows still leased to ``owner``; progress and
    the poll count are recorded, and, when ``release``, the leases given back. Changed rows are
    announced as ``job_transition`` announces (NOTIFY, ``job_changed`` after commit; from
    ``announce_in``'s thread when given, so slow receivers do not hold up the poller's loop).
    Returns the ids written."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    postgres = connection.vendor == "postgresql"
    params: list[object]
    if postgres:
        # The values as one JSON text: the statement's text is the same for any number of jobs
        # (psycopg converts it once, then from its cache) and its one parameter is encoded and
        # quoted in C. A VALUES list of 8 placeholders a job, or one array a column, was quoted
        # value by value in Python at every flush (10-14 % of the worker's time, py-spy).
        source = (
            "SELECT i, s, u, p, c, to_timestamp(n), k, d FROM json_to_recordset(%s::json) "
            "AS x(i bigint, s text, u text, p int, c text, n double precision, k int, d int)"
        )
        answers = [
            {
                "i": job.id,
                "s": job.status,
                "u": job.upstream_status,
                "p": job.progress,
                "c": job.checkpoint,
                "n": job.due,
                "k": job.polls,
                "d": 1 if job.dirty else 0,
            }
            for job in jobs
        ]
        params = [json.dumps(answers, separators=(",", ":"))]
    else:
        source = "VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(jobs))
        params = []
        for job in jobs:
            params += [
                job.id,
                job.status,
                job.upstream_status,
                job.progress,
                job.checkpoint,
                adapt(datetime.fromtimestamp(job.due, tz=UTC)),
                job.polls,
                1 if job.dirty else 0,
            ]
    lease = "lease_owner = '', lease_until = NULL," if release else ""
    table = RenderJob._meta.db_table
    moves = " OR ".join([f"({table}.status = %s AND v.vstatus = %s)"] * len(POLL_MOVES))
    update = (
        f"UPDATE {table} SET {lease} status = v.vstatus, upstream_status = v.vupstream, "  # noqa: S608
        "progress_pct = v.vprogress, checkpoint = v.vcheckpoint, next_poll_at = v.vnext, "
        "poll_count = poll_count + v.vpolls, retrying = false, upstream_errors = 0, "
        f"updated_at = CASE WHEN v.vdirty = 1 THEN %s ELSE {table}.updated_at END "
        f"FROM v WHERE {table}.id = v.vid AND {table}.lease_owner = %s AND ({moves}) "
    )
    params += [adapt(now), owner, *(status for move in POLL_MOVES for status in move)]
    values = (
        f"v(vid, vstatus, vupstream, vprogress, vcheckpoint, vnext, vpolls, vdirty) AS ({source})"
    )
    if postgres:
        # The changed rows' NOTIFY (one per job, as notify_job_changed) in the same statement,
        # which is its own transaction (no BEGIN and COMMIT round trips): sent as it commits.
        sql = (
            f"WITH {values}, u AS ({update} RETURNING {table}.id, {table}.status, "  # noqa: S608
            f"{table}.public_id, v.vdirty) "
            "SELECT id, status, CASE WHEN vdirty = 1 THEN pg_notify(%s, public_id) END FROM u"
        )
        params.append(NOTIFY_CHANNEL)
    else:
        # Only the updated table's columns: SQLite's RETURNING cannot name the FROM list's.
        sql = f"WITH {values} {update} RETURNING {table}.id, {table}.status"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [(row[0], row[1]) for row in cursor]
    by_id = {job.id: job for job in jobs}
    changes = [
        (pk, by_id[pk].written_status, status, by_id[pk].progress)
        for pk, status in rows
        if by_id[pk].dirty
    ]
    if changes:
        # After the commit: at once outside a transaction, else when the caller's commits.
        if announce_in is not None:
            transaction.on_commit(lambda: announce_in.submit(_announce_many, changes))
        else:
            transaction.on_commit(lambda: _announce_many(changes))
    return {pk for pk, _ in rows}


def _announce_many(changes: list[tuple[int, str, str, int]]) -> None:
    for job_id, old_status, new_status, progress in changes:
        signals.job_changed.send(
            sender=RenderJob,
            job_id=job_id,
            old_status=old_status,
            new_status=new_status,
            progress=progress,
        )
