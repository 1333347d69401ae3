"""Render jobs: our own record of every render, with explicit states.

The upstream (Viggle) job id and URLs are kept here for the worker only; they never reach a page,
fragment or stream, because Viggle's status endpoint has no auth (a leaked id is a leaked video).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from viggle_web.core.models import ActiveWhile
from viggle_web.viggle.errors import FAST_MODE_FULL


def new_public_id() -> str:
    return "r_" + secrets.token_urlsafe(18)


def output_upload_to(instance: RenderJob, filename: str) -> str:
    return f"renders/{instance.public_id}/{filename}"


class Submission(models.Model):
    """What a member submits from a page or the API and may send again (a double click, a
    browser or script retry): a render job, or a batch of them (``batches.Batch``)."""

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    # One per submission: sending it again finds the same job or batch.
    idempotency_key = models.CharField(max_length=80, unique=True)
    bg_color = models.CharField(max_length=11, blank=True)
    fast = models.BooleanField(default=False)
    estimate_credits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class RenderJob(ActiveWhile, Submission):
    class Status(models.TextChoices):
        PENDING = "pending", "Submitting"
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Rendering"
        FINISHING = "finishing", "Saving result"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # The create call may have started (and charged) a job upstream whose id we never
        # learnt: not sent again, credits kept reserved, until an admin links or releases it.
        ATTENTION = "attention", "Needs attention"

    ACTIVE = (Status.PENDING, Status.QUEUED, Status.PROCESSING, Status.FINISHING)
    FINAL = (Status.COMPLETE, Status.FAILED, Status.CANCELLED)

    class Model(models.TextChoices):
        V4 = "V4_Preview", "V4 Preview"
        V3 = "V3_Preview", "V3 Preview"

    class Background(models.TextChoices):
        ORIGINAL = "original", "Original"
        SOLID = "solid", "Solid colour"
        TRANSPARENT = "transparent", "Transparent"

    public_id = models.CharField(max_length=40, unique=True, default=new_public_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="render_jobs"
    )

    character = models.ForeignKey(
        "assets.Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    motion = models.ForeignKey(
        "assets.Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    character_mapping = models.JSONField(default=dict, blank=True)
    model = models.CharField(max_length=16, choices=Model.choices, default=Model.V4)
    background_mode = models.CharField(
        max_length=16, choices=Background.choices, default=Background.ORIGINAL
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    upstream_mode = models.CharField(max_length=32, blank=True)
    upstream_status = models.CharField(max_length=32, blank=True)
    upstream_job_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    progress_pct = models.PositiveSmallIntegerField(default=0)
    checkpoint = models.CharField(max_length=32, blank=True)
    retrying = models.BooleanField(default=False)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    estimate_seconds = models.FloatField(default=0)
    output_seconds = models.FloatField(null=True, blank=True)
    output = models.FileField(upload_to=output_upload_to, max_length=255, blank=True)
    mask = models.FileField(upload_to=output_upload_to, max_length=255, blank=True)
    poster = models.FileField(upload_to=output_upload_to, max_length=255, blank=True)
    output_size = models.BigIntegerField(default=0)

    # Worker bookkeeping: when the job is next due, and who holds it until when.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    submit_started_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    upstream_errors = models.PositiveIntegerField(default=0)
    upstream_cdn_url = models.URLField(max_length=1000, blank=True)
    upstream_mask_url = models.URLField(max_length=1000, blank=True)

    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta(Submission.Meta):
        indexes = [
            # The poller's hot query: due jobs among the active ones only.
            models.Index(
                fields=["next_poll_at"],
                name="render_due",
                condition=Q(status__in=["pending", "queued", "processing", "finishing"]),
            ),
            # The renders page: every job of the team, newest first.
            models.Index(fields=["-created_at", "-id"], name="render_newest"),
            models.Index(fields=["owner", "-created_at"], name="render_owner_newest"),
            models.Index(fields=["status", "-created_at"], name="render_status_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def failed_for_fast_capacity(self) -> bool:
        """Failed because fast mode was full: the page offers the same render at normal speed."""
        return self.status == self.Status.FAILED and self.error_code == FAST_MODE_FULL

    @property
    def stage(self) -> str:
        """A readable stage for people, from the upstream checkpoint."""
        if self.status == self.Status.PENDING:
            return "Sending to Viggle"
        if self.status == self.Status.QUEUED:
            return "Waiting in Viggle's queue"
        if self.status == self.Status.FINISHING:
            return "Saving the result"
        if self.status == self.Status.ATTENTION:
            return "Waiting for an admin"
        if self.status != self.Status.PROCESSING:
            return self.get_status_display()
        return {
            "": "Preparing character",
            "ref_done": "Reading motion",
            "dri_done": "Background",
            "bg_done": "Rendering",
            "render_done": "Finishing",
        }.get(self.checkpoint, "Rendering")
