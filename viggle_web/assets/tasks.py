"""django-q2 tasks of the gallery: thin, they take an id and call a service."""

from __future__ import annotations

import time

from django.core.cache import cache

from viggle_web.assets import services


def resource_submit(resource_id: int) -> None:
    services.resource_submit(resource_id=resource_id)


def resource_poll_loop(seconds: float = services.POLL_LOOP_SECONDS) -> int:
    """Poll due characters and scenes for up to ``seconds`` (kept under the task timeout), then
    hand over to a fresh loop if some are still in progress. django-q2 schedules fire at most
    once a minute, too slow for a 5 s poll, hence a loop. Returns how many polls it made."""
    deadline = time.monotonic() + seconds
    polled = 0
    while True:
        polled += services.resource_poll_due()
        wait = services.resource_next_due()
        if wait is None:
            cache.delete("assets:resource-poll-loop")
            return polled
        left = deadline - time.monotonic()
        if left <= wait:
            break
        time.sleep(min(max(wait, 0.2), left))
    cache.delete("assets:resource-poll-loop")
    services.poll_loop_ensure()
    return polled
