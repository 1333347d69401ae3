"""django-q2 tasks: thin, take an id, call a service."""

from __future__ import annotations

from viggle_web.renders import poller, services


def job_send(job_id: int) -> None:
    # Polling is the poller's (renders/poller.py), which runs for the worker's whole life.
    services.job_send(job_id=job_id, owner=poller.worker_name())
