"""django-q2 tasks: thin, take an id, call a service."""

from __future__ import annotations

from viggle_web.renders import poller, services


def job_send(job_id: int) -> None:
    services.job_send(job_id=job_id, owner=poller.worker_name())
    # The schedule starts the poll loop once a minute at best: start it now if none is on duty.
    if not poller.is_running():
        from django_q.tasks import async_task

        async_task("viggle_web.renders.tasks.poll_loop")


def poll_loop(seconds: float | None = None) -> int | None:
    """Run the poll loop, then hand over to a fresh task while renders are in flight, so polling
    never pauses between schedule ticks; an idle loop ends and frees its worker. The
    every-minute schedule (and every send) restarts the chain."""
    from django.conf import settings

    seconds = seconds or settings.POLLER_LOOP_SECONDS
    worked = poller.run_loop(seconds=seconds)
    if worked is not None and poller.has_active_work():
        from django_q.tasks import async_task

        async_task("viggle_web.renders.tasks.poll_loop", seconds)
    return worked
