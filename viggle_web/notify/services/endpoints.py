"""Standing webhook endpoints (a member's, or organisation-wide for admins), their secrets
(shown once, rotatable), test events, redelivery, preferences and notices."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.services import webhook_parse
from viggle_web.notify.models import (
    Delivery,
    Endpoint,
    Notice,
    Preference,
    ScriptSecret,
    new_secret,
)
from viggle_web.notify.services.common import (
    NotifyRefused,
    _enqueue_loop,
    preference,
)

logger = logging.getLogger(__name__)


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
