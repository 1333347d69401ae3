"""django-q2 tasks: thin, call a service."""

from __future__ import annotations

from viggle_web.notify import services


def delivery_loop(seconds: float | None = None) -> bool:
    """Deliver what is due; hand over to a fresh task while deliveries are due soon (the
    every-minute schedule restarts the chain for retries due later)."""
    more = services.delivery_loop_run(seconds=seconds)
    if more:
        from django_q.tasks import async_task

        async_task(services.LOOP_TASK)
    return more


def digest_send() -> int:
    return services.digest_send()
