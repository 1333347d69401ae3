"""The worker's standing schedule: the poll loop, restarted every minute (django-q2's finest
schedule). Created after every migrate, so a fresh database gets it with no extra step."""

from __future__ import annotations

POLLER_SCHEDULE = "render-poller"


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=POLLER_SCHEDULE,
        defaults={
            "func": "viggle_web.renders.tasks.poll_loop",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
