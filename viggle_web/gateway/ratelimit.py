"""Fixed-window rate limits kept in the database, so every web process shares one count.

A request takes one unit of its key's current window with a conditional UPDATE
(``count < limit``) that touches one row or none; the first request of a window inserts the
row (a concurrent insert loses on the unique constraint and retries the UPDATE). No counter
lives in process memory.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from viggle_web.gateway.models import RateCounter

WINDOW_SECONDS = 60
DEFAULT_TOKEN_LIMIT = 120
DEFAULT_IP_LIMIT = 600
KEEP_WINDOWS = timedelta(hours=1)


def token_limit() -> int:
    """Requests per minute per token (settings.GATEWAY_RATE_LIMIT_PER_MINUTE)."""
    return int(getattr(settings, "GATEWAY_RATE_LIMIT_PER_MINUTE", DEFAULT_TOKEN_LIMIT))


def ip_limit() -> int:
    """Requests per minute per client address on the token-free endpoints (status polls,
    signed downloads): settings.GATEWAY_PUBLIC_RATE_LIMIT_PER_MINUTE."""
    return int(getattr(settings, "GATEWAY_PUBLIC_RATE_LIMIT_PER_MINUTE", DEFAULT_IP_LIMIT))


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    retry_after: int


def _window(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _take(key: str, window: datetime, limit: int) -> bool:
    return (
        RateCounter.objects.filter(key=key, window_start=window, count__lt=limit).update(
            count=F("count") + 1
        )
        == 1
    )


def rate_take(*, key: str, limit: int, now: datetime | None = None) -> RateDecision:
    """Count one request for ``key``; refuse it when the window already holds ``limit``."""
    now = now or timezone.now()
    window = _window(now)
    retry_after = max(
        1, math.ceil((window + timedelta(seconds=WINDOW_SECONDS) - now).total_seconds())
    )
    if limit <= 0:
        return RateDecision(allowed=False, limit=limit, retry_after=retry_after)
    if _take(key, window, limit):
        return RateDecision(allowed=True, limit=limit, retry_after=0)
    try:
        with transaction.atomic():
            RateCounter.objects.create(key=key, window_start=window, count=1)
    except IntegrityError:
        # The row exists (full, or another process inserted it first): one more try.
        allowed = _take(key, window, limit)
        return RateDecision(allowed=allowed, limit=limit, retry_after=0 if allowed else retry_after)
    if random.random() < 0.05:
        # Now and then, drop windows long past (cheap: an indexed range delete).
        RateCounter.objects.filter(window_start__lt=window - KEEP_WINDOWS).delete()
    return RateDecision(allowed=True, limit=limit, retry_after=0)
