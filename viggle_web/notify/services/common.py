"""What the notification services share: event names, the refusal type, links, a member's
preferences, waking the delivery loop."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from viggle_web.accounts.models import User
from viggle_web.notify.models import (
    Preference,
)
from viggle_web.renders.models import RenderJob

logger = logging.getLogger(__name__)


EMAIL = "email"  # Delivery.url of an email delivery: the address is the owner's at send time
FINAL = {RenderJob.Status.COMPLETE, RenderJob.Status.FAILED, RenderJob.Status.CANCELLED}
ACTIVE = {RenderJob.Status.QUEUED, RenderJob.Status.PROCESSING, RenderJob.Status.FINISHING}
THRESHOLDS = (80, 100)
LOOP_TASK = "viggle_web.notify.tasks.delivery_loop"


class NotifyRefused(ValidationError):
    """A settings change that cannot be made; the message is for the member."""


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def preference(user: User) -> Preference:
    return Preference.objects.get_or_create(user=user)[0]


def _enqueue_loop() -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(LOOP_TASK))
