"""The poller's order when it runs late: a poll placed just after a predicted end goes out before
steady polls that were due earlier (renders/poller.py, ``Poller.aligned``)."""

from __future__ import annotations

import time
from typing import Any

from viggle_web.renders.poller import ALIGN_MARGIN_SECONDS, Held, Poller, predicted_end
from viggle_web.viggle.types import RenderStatus


def _held(pk: int, progress: int, seen_at: float | None) -> Held:
    return Held(
        id=pk,
        upstream=f"up-{pk}",
        status="processing",
        upstream_status="processing",
        progress=progress,
        checkpoint="",
        seen_progress=progress,
        seen_at=seen_at,
        due=0.0,
        written_status="processing",
        in_flight=True,
    )


def _status(progress: int) -> RenderStatus:
    return RenderStatus.from_json({"job_id": "x", "status": "processing", "progress_pct": progress})


def test_the_poll_that_should_see_the_end_goes_first_when_late() -> None:
    poller = Poller(owner="schedule-test")
    sent: list[Any] = []
    poller.fetcher.fetch_many = lambda items, done: sent.extend(items)  # type: ignore[method-assign]
    try:
        now = time.time()
        steady, ending = _held(1, 10, now - 20), _held(2, 20, now - 10)
        poller.held = {1: steady, 2: ending}
        poller.in_flight = 2
        poller.concurrency = 1
        # Job 1 gained nothing: asked again 3.5 s after its answer (now - 1.5).
        poller.record(1, _status(10), None, now - 5)
        # Job 2 went 20 -> 80 % in 6 s: it ends 2 s after its answer; asked at now - 1.
        poller.record(2, _status(80), None, now - 4)
        assert predicted_end(answered_at=now - 4, progress=80, seen_progress=20, seen_at=now - 10)
        assert steady.due < ending.due <= now
        poller.dispatch(now)
        assert sent == [(2, "up-2")]
        poller.in_flight = 0
        poller.dispatch(now)
        assert sent == [(2, "up-2"), (1, "up-1")]
    finally:
        poller.fetcher.close()
        poller.side.shutdown()
        poller.announcer.shutdown()


def test_a_render_far_from_its_end_is_polled_steadily() -> None:
    poller = Poller(owner="schedule-test")
    try:
        now = time.time()
        job = _held(1, 10, now - 4)
        poller.held = {1: job}
        poller.in_flight = 1
        poller.record(1, _status(11), None, now)  # 1 % in 4 s: the end is minutes away
        assert not poller.aligned and poller.schedule == [(job.due, 1)]
        assert 3.0 <= job.due - now <= 4.0
    finally:
        poller.fetcher.close()
        poller.side.shutdown()
        poller.announcer.shutdown()


def test_the_end_is_predicted_from_the_first_progress_seen() -> None:
    """Whole-percent steps over one interval would swing the rate; over the whole render they
    hardly move it. 10 % at t0, 20 % at t0 + 3 s, 70 % at t0 + 6 s: 10 %/s since the first
    answer, so the end is at t0 + 9 s and the poll goes just after it, at t0 + 9.25 s (the last
    step alone, 50 points in 3 s, would put the end at t0 + 7.8 s and the poll at t0 + 9 s,
    the 3 s minimum, before the end)."""
    poller = Poller(owner="schedule-test")
    poller.fetcher.fetch_many = lambda items, done: None  # type: ignore[method-assign]
    try:
        t0 = time.time() - 100
        job = _held(3, 0, None)
        poller.held = {3: job}
        for at, progress in ((t0, 10), (t0 + 3, 20), (t0 + 6, 70)):
            job.in_flight, poller.in_flight = True, 1
            poller.record(3, _status(progress), None, at)
        assert (job.seen_progress, job.seen_at) == (10, t0)
        assert abs(job.due - (t0 + 9.0 + ALIGN_MARGIN_SECONDS)) < 0.001
        assert (job.due, 3) in poller.aligned
    finally:
        poller.fetcher.close()
        poller.side.shutdown()
        poller.announcer.shutdown()
