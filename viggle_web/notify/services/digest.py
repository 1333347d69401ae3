"""The daily digest email."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from viggle_web.notify.models import (
    Preference,
)
from viggle_web.notify.services.common import (
    absolute,
)
from viggle_web.notify.services.events import (
    _email_to,
)

logger = logging.getLogger(__name__)


# --- the daily digest ---------------------------------------------------------------------------


def digest_send(*, now: datetime | None = None) -> int:
    """Queue the daily digest (what ended in the last 24 hours) for each member who chose it,
    once per member and day. Returns how many were queued."""
    from viggle_web.notify.models import DigestSent
    from viggle_web.notify.selectors import digest_lines

    now = now or timezone.now()
    day = timezone.localtime(now).date()
    queued = 0
    for pref in Preference.objects.filter(digest=True, user__is_active=True).select_related("user"):
        user = pref.user
        lines = digest_lines(user=user, start=now - timedelta(days=1), end=now)
        if not lines or not user.email:
            continue
        try:
            with transaction.atomic():
                DigestSent.objects.create(user=user, day=day)
                body = "\n".join(
                    f"- {line.what}: {line.outcome} "
                    f"({timezone.localtime(line.at).strftime('%-d %b %H:%M')})"
                    for line in lines
                )
                _email_to(
                    user,
                    f"Your Viggle Studio day: {len(lines)} finished",
                    f"In the last 24 hours:\n\n{body}\n\n{absolute('/renders/')}\n",
                )
        except IntegrityError:
            continue
        queued += 1
    return queued
