"""Events in: a job or an asset changed, spend was booked; each becomes webhook deliveries,
notices and emails as members asked (budget alerts once per threshold and month)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import ViggleResource
from viggle_web.core.messages import public_message
from viggle_web.gateway import payloads
from viggle_web.gateway.models import ApiObject, ApiRender
from viggle_web.notify.models import (
    EVENTS,
    BudgetAlert,
    Delivery,
    Endpoint,
    Notice,
)
from viggle_web.notify.services.common import (
    ACTIVE,
    EMAIL,
    FINAL,
    THRESHOLDS,
    _enqueue_loop,
    absolute,
    preference,
)
from viggle_web.renders.models import RenderJob
from viggle_web.renders.selectors import job_title
from viggle_web.usage.selectors import budget_status, month_window

logger = logging.getLogger(__name__)


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


# Who listens to "progress" (almost every poll of a running render is one): read at most every
# PROGRESS_LISTENERS_SECONDS per process, so a progress event nobody wants costs no query.
PROGRESS_LISTENERS_SECONDS = 2.0
_progress_listeners: tuple[float, ProgressListeners] | None = None


@dataclass(frozen=True)
class ProgressListeners:
    everyone: bool  # an enabled organisation-wide endpoint wants progress
    owners: frozenset[int]  # members with an enabled endpoint of their own that wants it
    jobs: frozenset[int]  # active API renders whose webhook_url wants it (no events: all)


def progress_listeners() -> ProgressListeners:
    global _progress_listeners
    now = time.monotonic()
    if _progress_listeners is not None and now - _progress_listeners[0] < (
        PROGRESS_LISTENERS_SECONDS
    ):
        return _progress_listeners[1]
    everyone, owners = False, set()
    for org_wide, owner_id, events in Endpoint.objects.filter(enabled=True).values_list(
        "org_wide", "owner_id", "events"
    ):
        if "progress" in (events or []):
            everyone = everyone or org_wide
            owners.add(owner_id)
    jobs = {
        job_id
        for job_id, events in ApiRender.objects.filter(job__status__in=ACTIVE)
        .exclude(webhook_url="")
        .values_list("job_id", "webhook_events")
        if not events or "progress" in events
    }
    listeners = ProgressListeners(everyone, frozenset(owners), frozenset(jobs))
    _progress_listeners = (now, listeners)
    return listeners


def progress_listeners_forget() -> None:
    """Read the listeners again at the next progress event (tests; an endpoint just saved)."""
    global _progress_listeners
    _progress_listeners = None


def on_job_changed(
    sender: object, *, job_id: int, old_status: str, new_status: str, progress: int, **_: object
) -> None:
    """renders.signals.job_changed: deliveries for the job's webhooks, and a notification email
    when it ended. Must not raise (the render's own work is done). A progress event is dropped
    without a query when no endpoint and no webhook_url wants progress (``progress_listeners``;
    an API render's own webhook is seen within PROGRESS_LISTENERS_SECONDS of its creation)."""
    event = job_event(old_status=old_status, new_status=new_status)
    if event is None:
        return
    owners_only: frozenset[int] | None = None  # wanted only by these owners' own endpoints
    if event == "progress":
        try:
            listeners = progress_listeners()
        except Exception:
            logger.exception("Progress listeners could not be read")
            return
        if not listeners.everyone and job_id not in listeners.jobs:
            if not listeners.owners:
                return
            owners_only = listeners.owners
    try:
        job = RenderJob.objects.select_related("owner").get(pk=job_id)
        if owners_only is not None and job.owner_id not in owners_only:
            return
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
    what = job_title(job)
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
