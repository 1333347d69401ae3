"""The poller's order when it runs late: a poll placed just after a predicted end goes out before
steady polls that were due earlier (renders/poller.py, ``Poller.aligned``)."""

from __future__ import annotations

import time
from typing import Any

from viggle_web.renders.poller import Held, Poller, predicted_end
from viggle_web.viggle.types import RenderStatus


def _held(pk: int, progress: int, seen_at: float) -> Held:
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
