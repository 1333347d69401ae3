"""The render state machine: every allowed move of the one table, made through the one function
(``renders.states.job_transition``) on a job written by the real submit path, books what it
must and announces itself once; a disallowed move is refused; a stale writer changes nothing."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import pytest
from django.db.models import Sum

from tests.renders.factories import asset_row
from viggle_web.renders import services, signals, states
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

S = RenderJob.Status


def _submit(owner, key: str = "sm-00000001") -> RenderJob:
    character = asset_row(owner=owner, kind="image")
    motion = asset_row(owner=owner, kind="video", seconds=2.2)
    return services.job_submit(
        owner=owner,
        idempotency_key=key,
        request=services.RenderRequest(character=character, motion=motion),
    )


def _path_to(target: str) -> list[states.Move]:
    """The shortest chain of allowed moves from pending (where every job is born) to ``target``."""
    queue: deque[tuple[str, list[states.Move]]] = deque([(S.PENDING, [])])
    seen = {S.PENDING}
    while queue:
        status, path = queue.popleft()
        if status == target:
            return path
        for move in states.MOVES:
            if move.source == status and move.target not in seen:
                seen.add(move.target)
                queue.append((move.target, [*path, move]))
    raise AssertionError(f"{target} cannot be reached from pending")


def _move(job: RenderJob, move: states.Move) -> states.Changed | None:
    return states.job_transition(
        job.pk,
        move.target,
        expect=move.source,
        reason="test",
        output_seconds=2.0 if move.ledger == states.SETTLE else None,
        progress=50 if move.source == move.target else None,
    )


@pytest.fixture
def events():
    seen: list[dict] = []

    def receiver(sender, **kwargs):
        seen.append({k: kwargs[k] for k in ("job_id", "old_status", "new_status", "progress")})

    signals.job_changed.connect(receiver, dispatch_uid="test_state_machine")
    yield seen
    signals.job_changed.disconnect(dispatch_uid="test_state_machine")


def _ledger(job: RenderJob) -> list[str]:
    return list(
        CreditEntry.objects.filter(job_id=job.pk).order_by("pk").values_list("kind", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("move", states.MOVES, ids=lambda m: f"{m.source}-{m.target}")
def test_every_allowed_move_is_made_by_the_one_function(
    member, move, events, django_capture_on_commit_callbacks
):
    job = _submit(member)
    assert job.status == S.PENDING and _ledger(job) == ["reserve"]
    for step in _path_to(move.source):
        assert _move(job, step) is not None
    booked_before = _ledger(job)
    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        change = _move(job, move)
    assert change is not None
    assert (change.old_status, change.new_status) == (move.source, move.target)
    job.refresh_from_db()
    assert job.status == move.target
    # The ledger: a release or a settle in the same transaction, exactly where the table says.
    booked = _ledger(job)[len(booked_before) :]
    assert booked == ([move.ledger] if move.ledger else [])
    if move.ledger == states.RELEASE:
        assert CreditEntry.objects.filter(job_id=job.pk).aggregate(s=Sum("credits"))["s"] == 0
    # The one event, once, after commit; a move to the same status announces its progress.
    assert events == [
        {
            "job_id": job.pk,
            "old_status": move.source,
            "new_status": move.target,
            "progress": job.progress_pct,
        }
    ]
    if move.source == move.target:
        assert job.progress_pct == 50


@pytest.mark.django_db
def test_a_move_the_table_does_not_allow_is_refused_and_changes_nothing(member, events):
    job = _submit(member)
    for step in _path_to(S.COMPLETE):
        _move(job, step)
    job.refresh_from_db()
    before = (job.status, job.updated_at, _ledger(job))
    events.clear()
    with pytest.raises(states.IllegalTransition):
        states.job_transition(job.pk, S.PROCESSING, expect=S.COMPLETE)
    # Without a claim about the source, a complete job is simply not one that can go there.
    assert states.job_transition(job.pk, S.QUEUED) is None
    assert states.job_transition(job.pk, S.FAILED, reason="late") is None
    job.refresh_from_db()
    assert (job.status, job.updated_at, _ledger(job)) == before
    assert events == []


@pytest.mark.django_db
def test_the_table_refuses_leaving_a_final_status():
    for final in RenderJob.FINAL:
        assert states.ALLOWED[final] == frozenset()


@pytest.mark.django_db
def test_a_stale_writer_changes_nothing_and_learns_it(member, events):
    job = _submit(member)
    services.job_cancel(job=job, actor=member)  # the member cancels while a worker sends
    job.refresh_from_db()
    before = (job.status, job.updated_at, _ledger(job))
    events.clear()
    # The worker still thinks the job is pending: its "accepted" write must not land.
    changed = states.job_transition(
        job.pk, S.QUEUED, expect=S.PENDING, fields={"upstream_status": "queued"}
    )
    assert changed is None
    job.refresh_from_db()
    assert (job.status, job.updated_at, _ledger(job)) == before
    assert job.upstream_status == ""
    assert _ledger(job) == ["reserve", "release"]  # released once, by the cancel only
    assert events == []


@pytest.mark.django_db
def test_a_writer_whose_lease_was_taken_over_changes_nothing(member):
    job = _submit(member)
    _move(job, _path_to(S.QUEUED)[0])
    assert services.job_claim(job_id=job.pk, owner="worker-b")
    job.refresh_from_db()
    stamp = job.updated_at
    assert (
        states.job_transition(job.pk, S.PROCESSING, expect=S.QUEUED, holder="worker-a", progress=40)
        is None
    )
    job.refresh_from_db()
    assert (job.status, job.progress_pct, job.updated_at) == (S.QUEUED, 0, stamp)
    assert states.job_transition(job.pk, S.PROCESSING, expect=S.QUEUED, holder="worker-b")


@pytest.mark.django_db
def test_progress_never_goes_back_and_an_unchanged_poll_is_not_announced(
    member, events, django_capture_on_commit_callbacks
):
    job = _submit(member)
    for step in _path_to(S.PROCESSING):
        _move(job, step)
    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        states.job_transition(job.pk, S.PROCESSING, progress=60)
        states.job_transition(job.pk, S.PROCESSING, progress=30)
    job.refresh_from_db()
    assert job.progress_pct == 60
    assert [(e["new_status"], e["progress"]) for e in events] == [(S.PROCESSING, 60)]


@dataclass
class _Answer:
    """What the poller holds of a job (renders.poller.Held has these fields)."""

    id: int
    status: str
    upstream_status: str
    progress: int
    checkpoint: str = ""
    due: float = field(default_factory=lambda: time.time() + 3)
    polls: int = 1
    dirty: bool = True
    written_status: str = ""


@pytest.mark.django_db
def test_the_pollers_batched_write_makes_only_the_tables_moves(
    member, events, django_capture_on_commit_callbacks
):
    ahead = _submit(member, key="sm-batch-0001")
    behind = _submit(member, key="sm-batch-0002")
    for job in (ahead, behind):
        for step in _path_to(S.PROCESSING if job is ahead else S.QUEUED):
            _move(job, step)
        assert services.job_claim(job_id=job.pk, owner="poller-1")
    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        written = states.jobs_record_polls(
            owner="poller-1",
            jobs=[
                # processing -> queued is no move of the table: not written
                _Answer(ahead.pk, S.QUEUED, "queued", 70, written_status=S.PROCESSING),
                _Answer(behind.pk, S.PROCESSING, "processing", 20, written_status=S.QUEUED),
            ],
            release=True,
        )
    assert written == {behind.pk}
    ahead.refresh_from_db()
    behind.refresh_from_db()
    assert (ahead.status, ahead.progress_pct, ahead.lease_owner) == (S.PROCESSING, 0, "poller-1")
    assert (behind.status, behind.progress_pct, behind.lease_owner) == (S.PROCESSING, 20, "")
    assert events == [
        {"job_id": behind.pk, "old_status": S.QUEUED, "new_status": S.PROCESSING, "progress": 20}
    ]


@pytest.mark.django_db(transaction=True)
def test_the_batched_write_notifies_the_changed_jobs_once_it_has_committed(member, events):
    """The poller's one statement: a changed job is NOTIFYed to the live streams (Postgres)
    and announced; one polled without change gets its next poll time, and no NOTIFY."""
    import psycopg
    from django.conf import settings
    from django.db import connection

    from viggle_web.renders.stream import listen_conninfo

    if connection.vendor != "postgresql":
        pytest.fail("NOTIFY needs the Postgres of bin/test")
    changed = _submit(member, key="sm-notify-0001")
    same = _submit(member, key="sm-notify-0002")
    for job in (changed, same):
        for step in _path_to(S.PROCESSING):
            _move(job, step)
        assert services.job_claim(job_id=job.pk, owner="poller-1")
    due = time.time() + 4
    events.clear()
    with psycopg.connect(listen_conninfo(settings.DATABASES["default"]), autocommit=True) as db:
        db.execute(f"LISTEN {states.NOTIFY_CHANNEL}")
        written = states.jobs_record_polls(
            owner="poller-1",
            jobs=[
                _Answer(changed.pk, S.PROCESSING, "processing", 40, written_status=S.PROCESSING),
                _Answer(
                    same.pk,
                    S.PROCESSING,
                    "processing",
                    0,
                    due=due,
                    dirty=False,
                    written_status=S.PROCESSING,
                ),
            ],
            release=False,
        )
        heard = [note.payload for note in db.notifies(timeout=2, stop_after=5)]
    assert written == {changed.pk, same.pk}
    assert heard == [changed.public_id]
    assert events == [
        {
            "job_id": changed.pk,
            "old_status": S.PROCESSING,
            "new_status": S.PROCESSING,
            "progress": 40,
        }
    ]
    same.refresh_from_db()
    assert same.progress_pct == 0 and abs(same.next_poll_at.timestamp() - due) < 0.01
