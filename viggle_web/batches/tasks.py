"""django-q2 tasks: thin, take an id, call a service."""

from __future__ import annotations

from viggle_web.batches import results, services


def batch_send(batch_id: int) -> None:
    services.batch_send(batch_id=batch_id)


def result_publish(job_id: int) -> None:
    results.result_publish(job_id=job_id)
