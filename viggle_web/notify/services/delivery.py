"""Delivery: signed (Standard Webhooks), claimed with a lease, retried on the schedule, an
endpoint disabled after too many failures; the worker's delivery loop."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from viggle_web.core import netsafety, qworker
from viggle_web.notify.models import (
    Attempt,
    Delivery,
    DeliveryLoop,
    Endpoint,
    Notice,
)
from viggle_web.notify.services.common import (
    EMAIL,
    absolute,
)
from viggle_web.notify.services.endpoints import (
    script_secret,
)
from viggle_web.notify.services.events import (
    _email_to,
)
from viggle_web.renders.poller import worker_name

logger = logging.getLogger(__name__)


# --- delivery ----------------------------------------------------------------------------------


def retry_schedule() -> list[float]:
    return [float(s) for s in settings.WEBHOOK_RETRY_SCHEDULE]


def _secret_for(delivery: Delivery) -> str:
    if delivery.endpoint_id is not None:
        return delivery.endpoint.secret
    return script_secret(user=delivery.owner).secret


def signed_headers(*, message_id: str, secret: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/json",
    }


def _claim(delivery_id: int, now: datetime) -> bool:
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    return (
        Delivery.objects.filter(
            pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease, attempts=F("attempts") + 1)
        == 1
    )


def delivery_attempt(delivery_id: int) -> bool:
    """One attempt of a due delivery (claimed first). Returns whether it was attempted."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return False
    delivery = Delivery.objects.select_related("endpoint", "owner").get(pk=delivery_id)
    if delivery.endpoint is not None and not delivery.endpoint.enabled:
        Delivery.objects.filter(pk=delivery_id).update(
            status=Delivery.Status.FAILED, lease_until=None, last_error="The endpoint is disabled."
        )
        return True
    log = Attempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=now,
        error="No answer recorded (the worker stopped during the attempt).",
    )
    started = time.monotonic()
    code, error = _send(delivery)
    log.milliseconds = int((time.monotonic() - started) * 1000)
    log.response_code, log.ok = code, error == ""
    log.error = error[:300]
    log.save(update_fields=["milliseconds", "response_code", "ok", "error"])
    _record(delivery, code=code, error=error)
    return True


def _send(delivery: Delivery) -> tuple[int | None, str]:
    """POST the delivery (or send its email). Returns (status code, error: "" on success)."""
    if delivery.url == EMAIL:
        if not delivery.owner.email:
            return None, "The member has no email address."
        try:
            send_mail(
                delivery.payload["subject"],
                delivery.payload["body"],
                settings.DEFAULT_FROM_EMAIL,
                [delivery.owner.email],
            )
        except OSError as exc:
            return None, f"The email could not be sent: {exc.__class__.__name__}"
        return None, ""
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = signed_headers(
        message_id=delivery.message_id,
        secret=_secret_for(delivery),
        body=body,
        at=timezone.now(),
    )
    headers["viggle-event"] = delivery.event
    try:
        result = netsafety.post(
            delivery.url,
            content=body.encode(),
            headers=headers,
            timeout_seconds=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_response_bytes=settings.WEBHOOK_MAX_RESPONSE_BYTES,
        )
    except netsafety.FetchError as exc:
        return None, exc.reason
    if 200 <= result.status_code < 300:
        return result.status_code, ""
    return result.status_code, f"The endpoint answered HTTP {result.status_code}."


def _record(delivery: Delivery, *, code: int | None, error: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        row = Delivery.objects.select_for_update().get(pk=delivery.pk)
        row.last_response_code, row.last_error, row.lease_until = code, error[:300], None
        endpoint = (
            Endpoint.objects.select_for_update().get(pk=row.endpoint_id)
            if row.endpoint_id
            else None
        )
        if not error:
            row.status, row.delivered_at, row.next_attempt_at = Delivery.Status.DELIVERED, now, None
            row.save()
            if endpoint is not None and endpoint.consecutive_failures:
                endpoint.consecutive_failures = 0
                endpoint.save(update_fields=["consecutive_failures"])
            return
        schedule = retry_schedule()
        if row.attempts <= len(schedule):
            row.next_attempt_at = now + timedelta(seconds=schedule[row.attempts - 1])
        else:
            row.status, row.next_attempt_at = Delivery.Status.FAILED, None
        row.save()
        if endpoint is not None:
            endpoint.consecutive_failures += 1
            endpoint.save(update_fields=["consecutive_failures"])
            if endpoint.enabled and (
                endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES
            ):
                _disable(endpoint, now)


def _disable(endpoint: Endpoint, now: datetime) -> None:
    """Within a transaction: stop delivering to an endpoint that keeps failing; tell its owner
    (a page notice and an email)."""
    endpoint.enabled, endpoint.disabled_at = False, now
    endpoint.save(update_fields=["enabled", "disabled_at"])
    Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED, next_attempt_at=None, last_error="The endpoint is disabled."
    )
    text = (
        f"Webhook endpoint {endpoint.url} was disabled after "
        f"{endpoint.consecutive_failures} failed deliveries in a row. Fix it, then enable it "
        "again on the webhooks page."
    )
    Notice.objects.create(user=endpoint.owner, text=text)
    _email_to(
        endpoint.owner,
        "Webhook endpoint disabled",
        f"{text}\n\n{absolute(reverse('notify:webhooks'))}\n",
    )


# --- the loop ----------------------------------------------------------------------------------


def _loop_acquire(owner: str) -> bool:
    now = timezone.now()
    DeliveryLoop.objects.get_or_create(pk=1)
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    return (
        DeliveryLoop.objects.filter(pk=1)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(owner=owner))
        .update(lease_until=lease, owner=owner)
        == 1
    )


def _loop_release(owner: str) -> None:
    DeliveryLoop.objects.filter(pk=1, owner=owner).update(lease_until=None, owner="")


def _due(now: datetime) -> list[int]:
    return list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:100]
    )


def _next_due(now: datetime) -> float | None:
    """Seconds until the next pending delivery may be attempted (a leased one: when its lease
    runs out), or None when nothing is pending."""
    times: list[datetime] = []
    for due, lease in Delivery.objects.filter(status=Delivery.Status.PENDING).values_list(
        "next_attempt_at", "lease_until"
    )[:1000]:
        moments = [t for t in (due, lease) if t is not None]
        if moments:
            times.append(max(moments))
    return max(0.0, (min(times) - now).total_seconds()) if times else None


def delivery_loop_run(*, seconds: float | None = None) -> bool:
    """Deliver what is due until nothing is due within the loop's time (``WEBHOOK_LOOP_SECONDS``).
    One loop runs at a time (a lease on ``DeliveryLoop``). Returns whether work is left within
    the next loop's time (the task then enqueues a successor)."""
    seconds = settings.WEBHOOK_LOOP_SECONDS if seconds is None else seconds
    owner = worker_name()
    if not _loop_acquire(owner):
        return False
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end and not qworker.STOPPING.is_set():
            if not _loop_acquire(owner):  # renews the lease; lost it: another loop took over
                return False
            ids = _due(timezone.now())
            for delivery_id in ids:
                try:
                    delivery_attempt(delivery_id)
                except Exception:
                    logger.exception("Delivery %s failed unexpectedly", delivery_id)
            if ids:
                continue
            wait = _next_due(timezone.now())
            if wait is None or wait > end - time.monotonic():
                break
            time.sleep(min(max(wait, 0.05), 1.0))
    finally:
        _loop_release(owner)
    wait = _next_due(timezone.now())
    return wait is not None and wait < settings.WEBHOOK_LOOP_SECONDS
