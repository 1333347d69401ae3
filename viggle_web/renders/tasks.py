"""django-q2 tasks: thin, take an id, call a service."""

from __future__ import annotations

from viggle_web.renders import poller, services

POLL_LOOP_SECONDS = 55.0


def job_send(job_id: int) -> None:
    services.job_send(job_id=job_id, owner=poller.worker_name())


def poll_loop(seconds: float = POLL_LOOP_SECONDS) -> int:
    return poller.run_loop(seconds=seconds)
