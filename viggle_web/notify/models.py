"""Webhook endpoints and deliveries (signed, logged, retried), people's notification
preferences, page notices and the budget alerts already sent."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models

EVENTS = ("start", "progress", "completed")


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Endpoint(models.Model):
    """A standing webhook endpoint: a member's own (their renders and imports) or, made by an
    admin, organisation-wide (everyone's). Disabled after too many failed attempts in a row."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    org_wide = models.BooleanField(default=False)
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=80, default=new_secret)
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return event == "test" or event in self.events


class ScriptSecret(models.Model):
    """The secret that signs deliveries to a ``webhook_url`` given in an API request."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_script_secret"
    )
    secret = models.CharField(max_length=80, default=new_secret)
    rotated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"script secret of {self.user_id}"


class Delivery(models.Model):
    """One event for one URL. ``message_id`` is the ``webhook-id`` of every attempt (retries and
    redeliveries included), so receivers can drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    message_id = models.CharField(max_length=40, unique=True, default=new_message_id)
    endpoint = models.ForeignKey(
        Endpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Deliveries to a webhook_url given in an API request have no endpoint: the member owns them.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    url = models.URLField(max_length=500)
    event = models.CharField(max_length=16)
    subject = models.CharField(max_length=80)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} {self.subject} -> {self.url}"


class Attempt(models.Model):
    """The delivery log: one row per POST."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    response_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    milliseconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class DeliveryLoop(models.Model):
    """The single row whose lease says a delivery loop is running (pk=1)."""

    lease_until = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"delivery loop {self.owner}"


class Preference(models.Model):
    """How a member wants to hear about their renders and imports."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_preference"
    )
    browser = models.BooleanField(default=False)
    email = models.BooleanField(default=False)
    digest = models.BooleanField(default=False)
    budget_alerts = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class Notice(models.Model):
    """A message shown on the member's notifications page (and counted in the top bar)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices"
    )
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.text


class BudgetAlert(models.Model):
    """A budget threshold passed in a month: written once, which is what makes it once."""

    # The member whose budget it is; null for the organisation's.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField()
    threshold = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "month", "threshold"],
                condition=models.Q(user__isnull=False),
                name="budget_alert_member_once",
            ),
            models.UniqueConstraint(
                fields=["month", "threshold"],
                condition=models.Q(user__isnull=True),
                name="budget_alert_org_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.threshold}% {self.month} {self.user_id or 'organisation'}"


class DigestSent(models.Model):
    """A daily digest sent to a member for a day (so a repeated schedule sends it once)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digest_once")]

    def __str__(self) -> str:
        return f"digest {self.day} for {self.user_id}"
