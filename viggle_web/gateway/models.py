"""The Viggle-compatible API's own state: personal tokens, our ids for characters and scenes,
and rate-limit counters.

Renders made through the API are ordinary RenderJob rows (source="api", addressed by their
random public_id); characters and scenes are ordinary gallery assets whose Viggle resources the
worker prepares. ApiObject only gives such an asset a random id of ours, so upstream ids never
leave the server.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


def new_object_id() -> str:
    return str(uuid.uuid4())


class ApiToken(models.Model):
    """A member's personal API token. Only its SHA-256 is stored; ``prefix`` (the first
    characters) lets the member tell tokens apart. It acts as its member: role, budget and
    active state are read from the user at each request."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_newest")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiObject(models.Model):
    """A character or scene as the API shows it: our random id for a gallery asset (and, for a
    scene, the model it is bound to; "" for an imported template, which serves both)."""

    class Kind(models.TextChoices):
        CHARACTER = "character", "Character"
        SCENE = "scene", "Scene"

    public_id = models.CharField(max_length=40, unique=True, default=new_object_id, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    asset = models.ForeignKey("assets.Asset", on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=16, blank=True)
    background_mode = models.CharField(max_length=16, blank=True)
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_objects"
    )
    # A webhook_url given with the request (delivered by notify when preprocessing ends).
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_events = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "kind", "-created_at"], name="apiobject_owner_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"

    @property
    def job_id(self) -> str:
        prefix = "char" if self.kind == self.Kind.CHARACTER else "scene"
        return f"{prefix}_{self.public_id.replace('-', '')[:12]}"


class ApiRender(models.Model):
    """What a script asked for in POST /api/render. Viggle's ``mode`` reports the request
    (uploads: full_pipeline, ids: preprocessed, fast), not how we sent it upstream: an on-demand
    render goes to Viggle as a preprocessed one when the gallery already has both prepared."""

    class Mode(models.TextChoices):
        FULL_PIPELINE = "full_pipeline", "Full pipeline"
        PREPROCESSED = "preprocessed", "Preprocessed"
        FAST = "fast", "Fast"

    job = models.OneToOneField(
        "renders.RenderJob", on_delete=models.CASCADE, primary_key=True, related_name="api_render"
    )
    mode = models.CharField(max_length=16, choices=Mode.choices)
    # A webhook_url given with the request, and the events it wants (delivered by notify).
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_events = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.job_id}: {self.mode}"


class RateCounter(models.Model):
    """One fixed window of a rate limit (``key`` is "token:<id>" or "ip:<address>"). Shared by
    every web process through the database; incremented with conditional UPDATEs."""

    key = models.CharField(max_length=100)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratecounter_key_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratecounter_window")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%H:%M}: {self.count}"
