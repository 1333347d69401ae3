"""Webhooks and notifications: who hears about what, and the delivery of signed webhooks.

Renders (``job_changed``), the gallery (``asset_changed``) and the ledger (``spend_booked``)
announce events after their transactions commit; the receivers here only write rows
(``Delivery``, ``Notice``, ``BudgetAlert``) and enqueue the delivery loop on commit. Every POST
to a URL and every email happens in the worker's delivery loop (``delivery_loop_run``), never in
a request.

A delivery is one event for one URL (or one email). Its ``message_id`` is the ``webhook-id`` of
every attempt, retries and redeliveries included, so receivers can drop duplicates. Attempts are
claimed with a lease (a conditional UPDATE): a worker killed mid-POST leaves a lease that runs
out, and the next loop sends the same message again. Failed attempts are retried on
``WEBHOOK_RETRY_SCHEDULE`` (seconds; 24 h in all by default); an endpoint whose attempts fail
``WEBHOOK_DISABLE_AFTER_FAILURES`` times in a row is disabled and its owner told.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from viggle_web.accounts.models import User
from viggle_web.assets.models import ViggleResource
from viggle_web.core import netsafety, qworker
from viggle_web.core.messages import public_message
from viggle_web.gateway import payloads
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.models import ApiObject, ApiRender
from viggle_web.gateway.services import webhook_parse
from viggle_web.notify.models import (
    EVENTS,
    Attempt,
    BudgetAlert,
    Delivery,
    DeliveryLoop,
    Endpoint,
    Notice,
    Preference,
    ScriptSecret,
    new_secret,
)
from viggle_web.renders.models import RenderJob
from viggle_web.renders.poller import worker_name
from viggle_web.usage.selectors import budget_status, month_window

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


# --- events in ---------------------------------------------------------------------------------


def job_event(*, old_status: str, new_status: str) -> str | None:
    """Which webhook event a change of a render is: ``start`` (Viggle took it), ``progress``
    (status or progress while it runs), ``completed`` (complete, failed or cancelled)."""
    if new_status in FINAL and old_status != new_status:
        return "completed"
    if old_status == RenderJob.Status.PENDING and new_status in ACTIVE:
        return "start"
    if new_status in ACTIVE:
        return "progress"
    return None


def on_job_changed(
    sender: object, *, job_id: int, old_status: str, new_status: str, progress: int, **_: object
) -> None:
    """renders.signals.job_changed: deliveries for the job's webhooks, and a notification email
    when it ended. Must not raise (the render's own work is done)."""
    event = job_event(old_status=old_status, new_status=new_status)
    if event is None:
        return
    try:
        job = RenderJob.objects.select_related("owner").get(pk=job_id)
        api = ApiRender.objects.filter(job_id=job_id).first()
        hook = (api.webhook_url, api.webhook_events) if api and api.webhook_url else None
        with transaction.atomic():
            _fan_out(
                owner=job.owner,
                event=event,
                subject=f"render:{job.public_id}",
                payload=payloads.render_status(job, absolute),
                hook=hook,
            )
            if event == "completed":
                _email_done(job.owner, *_job_words(job))
    except Exception:
        logger.exception("Webhooks for render %s could not be queued", job_id)


def _job_words(job: RenderJob) -> tuple[str, str]:
    what = f"{job.character.name if job.character else 'Template'} × {job.motion.name}"
    link = absolute(f"/renders/{job.public_id}/")
    return f"Render {job.get_status_display().lower()}: {what}", link


def on_asset_changed(
    sender: object, *, resource_id: int, asset_id: int, status: str, **_: object
) -> None:
    """assets.signals.asset_changed: a preprocessing or template import ended."""
    try:
        resource = ViggleResource.objects.select_related("asset", "requested_by").get(
            pk=resource_id
        )
        kind = (
            ApiObject.Kind.CHARACTER
            if resource.kind == ViggleResource.Kind.CHARACTER
            else ApiObject.Kind.SCENE
        )
        objects = ApiObject.objects.filter(asset_id=asset_id, kind=kind).select_related("owner")
        if kind == ApiObject.Kind.SCENE and resource.model:
            objects = objects.filter(Q(model=resource.model) | Q(model=""))
        with transaction.atomic():
            for obj in objects:
                payload = (
                    payloads.character(obj, absolute)
                    if kind == ApiObject.Kind.CHARACTER
                    else payloads.scene(obj)
                )
                hook = (obj.webhook_url, obj.webhook_events) if obj.webhook_url else None
                _fan_out(
                    owner=obj.owner,
                    event="completed",
                    subject=f"{kind}:{obj.public_id}",
                    payload=payload,
                    hook=hook,
                    standing=False,
                )
            owner = resource.requested_by
            if owner is not None:
                if not objects:
                    # A gallery preprocessing or import (not through the API): standing endpoints.
                    _fan_out(
                        owner=owner,
                        event="completed",
                        subject=f"asset:{asset_id}",
                        payload=_asset_payload(resource, status),
                        hook=None,
                    )
                word = "ready" if status == ViggleResource.Status.READY else "failed"
                noun = "Template import" if resource.asset.kind == "template" else "Preprocessing"
                _email_done(
                    owner,
                    f"{noun} {word}: {resource.asset.name}",
                    absolute(f"/gallery/{asset_id}/"),
                )
    except Exception:
        logger.exception("Notifications for resource %s could not be queued", resource_id)


def _asset_payload(resource: ViggleResource, status: str) -> dict[str, Any]:
    failed = status == ViggleResource.Status.FAILED
    return {
        "asset_id": resource.asset_id,
        "name": resource.asset.name,
        "kind": resource.kind,
        "model": resource.model or None,
        "status": status,
        "error_message": public_message(resource.error_message) if failed else None,
        "url": absolute(f"/gallery/{resource.asset_id}/"),
    }


def _fan_out(
    *,
    owner: User,
    event: str,
    subject: str,
    payload: dict[str, Any],
    hook: tuple[str, list[str]] | None,
    standing: bool = True,
) -> list[Delivery]:
    """Within a transaction: a delivery for the request's own webhook_url (when it wants the
    event), for each of the owner's endpoints and each organisation-wide endpoint that want it."""
    rows: list[Delivery] = []
    now = timezone.now()
    if hook is not None and event in (hook[1] or EVENTS):
        rows.append(Delivery(owner=owner, url=hook[0], event=event, subject=subject))
    if standing:
        endpoints = Endpoint.objects.filter(enabled=True).filter(Q(owner=owner) | Q(org_wide=True))
        for endpoint in endpoints:
            if endpoint.wants(event):
                rows.append(
                    Delivery(
                        owner=endpoint.owner,
                        endpoint=endpoint,
                        url=endpoint.url,
                        event=event,
                        subject=subject,
                    )
                )
    for row in rows:
        row.payload = payload
        row.next_attempt_at = now
    created = Delivery.objects.bulk_create(rows)
    if created:
        _enqueue_loop()
    return created


def _email_done(user: User, subject: str, link: str) -> None:
    """Within a transaction: an email about a finished render or import, if the member wants
    one (sent by the delivery loop)."""
    if not user.email or not preference(user).email:
        return
    Delivery.objects.create(
        owner=user,
        url=EMAIL,
        event="email",
        subject=subject[:80],
        payload={"subject": subject, "body": f"{subject}\n\n{link}\n"},
        next_attempt_at=timezone.now(),
    )
    _enqueue_loop()


def _email_to(user: User, subject: str, body: str) -> None:
    if user.email:
        Delivery.objects.create(
            owner=user,
            url=EMAIL,
            event="email",
            subject=subject[:80],
            payload={"subject": subject, "body": body},
            next_attempt_at=timezone.now(),
        )
        _enqueue_loop()


# --- budget alerts ------------------------------------------------------------------------------


def on_spend_booked(sender: object, *, user_ids: list[int], **_: object) -> None:
    """usage.signals.spend_booked: members and admins are told once per threshold and month
    when a member's or the organisation's monthly budget passes 80% and 100%."""
    try:
        for user in User.objects.filter(pk__in=user_ids):
            budget_alerts_check(user=user)
    except Exception:
        logger.exception("Budget alerts for %s could not be checked", user_ids)


def budget_alerts_check(*, user: User) -> list[BudgetAlert]:
    status = budget_status(user=user)
    month = timezone.localtime(month_window()[0]).date()
    admins = list(User.objects.filter(role="admin", is_active=True))
    sent: list[BudgetAlert] = []
    scopes = ((user, status.member, [user, *admins]), (None, status.org, admins))
    for who, scope, audience in scopes:
        if not scope.cap:
            continue
        percent = scope.used * 100 / scope.cap
        for threshold in THRESHOLDS:
            if percent < threshold:
                continue
            try:
                with transaction.atomic():
                    alert = BudgetAlert.objects.create(user=who, month=month, threshold=threshold)
                    whose = f"{who.display_name}'s" if who else "The organisation's"
                    text = (
                        f"{whose} monthly budget is {threshold}% used: {scope.used} of "
                        f"{scope.cap} credits this month."
                    )
                    for person in {p.pk: p for p in audience}.values():
                        Notice.objects.create(user=person, text=text)
                        if preference(person).budget_alerts:
                            _email_to(person, f"Budget alert: {threshold}% used", text + "\n")
            except IntegrityError:
                continue  # already told this month
            sent.append(alert)
    return sent


# --- standing endpoints and secrets -------------------------------------------------------------


@dataclass(frozen=True)
class ShownSecret:
    endpoint: Endpoint | None
    secret: str


def _checked(url: str, events: list[str]) -> tuple[str, list[str]]:
    try:
        parsed = webhook_parse(url.strip(), events)
    except ApiError as exc:
        raise NotifyRefused(exc.message)
    if parsed is None:
        raise NotifyRefused("Enter the URL to deliver to.")
    return parsed.url, parsed.events


def endpoint_create(*, actor: User, url: str, events: list[str], org_wide: bool) -> ShownSecret:
    """A standing endpoint; its secret is returned to be shown once."""
    if org_wide and not actor.is_admin:
        raise PermissionDenied("Only admins add organisation-wide endpoints.")
    if not events:
        raise NotifyRefused("Choose at least one event.")
    url, events = _checked(url, events)
    endpoint = Endpoint.objects.create(owner=actor, url=url, events=events, org_wide=org_wide)
    return ShownSecret(endpoint=endpoint, secret=endpoint.secret)


def endpoint_may_manage(*, endpoint: Endpoint, actor: User) -> bool:
    return actor.may_manage(endpoint.owner_id) if not endpoint.org_wide else actor.is_admin


def _managed(endpoint: Endpoint, actor: User) -> Endpoint:
    if not endpoint_may_manage(endpoint=endpoint, actor=actor):
        raise PermissionDenied("This endpoint is not yours.")
    return endpoint


def endpoint_rotate(*, endpoint: Endpoint, actor: User) -> ShownSecret:
    _managed(endpoint, actor)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return ShownSecret(endpoint=endpoint, secret=endpoint.secret)


def endpoint_enable(*, endpoint: Endpoint, actor: User) -> Endpoint:
    _managed(endpoint, actor)
    endpoint.enabled, endpoint.consecutive_failures, endpoint.disabled_at = True, 0, None
    endpoint.save(update_fields=["enabled", "consecutive_failures", "disabled_at"])
    return endpoint


def endpoint_delete(*, endpoint: Endpoint, actor: User) -> None:
    _managed(endpoint, actor).delete()


def endpoint_send_test(*, endpoint: Endpoint, actor: User) -> Delivery:
    """A "test" event to the endpoint, through the delivery loop like any other."""
    _managed(endpoint, actor)
    if not endpoint.enabled:
        raise NotifyRefused("Enable the endpoint before sending it a test event.")
    with transaction.atomic():
        delivery = Delivery.objects.create(
            owner=endpoint.owner,
            endpoint=endpoint,
            url=endpoint.url,
            event="test",
            subject="test",
            payload={"type": "test", "message": "A test event from Viggle Studio."},
            next_attempt_at=timezone.now(),
        )
        _enqueue_loop()
    return delivery


def script_secret(*, user: User) -> ScriptSecret:
    return ScriptSecret.objects.get_or_create(user=user)[0]


def script_secret_rotate(*, user: User) -> ShownSecret:
    secret, _ = ScriptSecret.objects.get_or_create(user=user)
    secret.secret = new_secret()
    secret.save()
    return ShownSecret(endpoint=None, secret=secret.secret)


def delivery_redeliver(*, delivery: Delivery, actor: User) -> Delivery:
    """Send a delivery again (same webhook-id); its log keeps the earlier attempts."""
    if not actor.may_manage(delivery.owner_id):
        raise PermissionDenied("This delivery is not yours.")
    if delivery.endpoint is not None and not delivery.endpoint.enabled:
        raise NotifyRefused("Enable the endpoint before redelivering to it.")
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.PENDING, next_attempt_at=timezone.now(), lease_until=None
        )
        _enqueue_loop()
    delivery.refresh_from_db()
    return delivery


def preference_set(*, user: User, **values: bool) -> Preference:
    pref = preference(user)
    for name, value in values.items():
        setattr(pref, name, bool(value))
    pref.save()
    return pref


def notices_read(*, user: User) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


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
