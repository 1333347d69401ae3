"""The worker's standing schedules for notify, created after every migrate: the delivery loop
restarted every minute (retries due later than a loop's time), and the daily digest."""

from __future__ import annotations

DELIVERY_SCHEDULE = "webhook-deliveries"
DIGEST_SCHEDULE = "notify-digest"


def ensure_schedules(**kwargs: object) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=DELIVERY_SCHEDULE,
        defaults={
            "func": "viggle_web.notify.tasks.delivery_loop",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    Schedule.objects.update_or_create(
        name=DIGEST_SCHEDULE,
        defaults={
            "func": "viggle_web.notify.tasks.digest_send",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )
