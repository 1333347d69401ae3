"""Alpha exports of transparent results: one file with an alpha channel per format and render,
combined by the worker from the result video and its mask (white = character)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from viggle_web.core.models import ActiveWhile


def export_upload_to(instance: Export, filename: str) -> str:
    return f"renders/{instance.job.public_id}/exports/{filename}"


class Export(ActiveWhile, models.Model):
    class Format(models.TextChoices):
        WEBM = "webm", "WebM (VP9 with alpha)"
        MOV = "mov", "MOV (ProRes 4444 with alpha)"
        PNG = "png", "PNG sequence (ZIP)"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for the render"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Making"
        COMPLETE = "complete", "Ready"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.WAITING, Status.QUEUED, Status.RUNNING)

    job = models.ForeignKey("renders.RenderJob", on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=8, choices=Format.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    progress_pct = models.PositiveSmallIntegerField(default=0)
    error_message = models.CharField(max_length=500, blank=True)

    file = models.FileField(upload_to=export_upload_to, max_length=255, blank=True)
    still = models.FileField(upload_to=export_upload_to, max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    frames = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)

    # Worker bookkeeping: who is making it until when (a dead worker's lease runs out).
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["format"]
        constraints = [
            models.UniqueConstraint(fields=["job", "format"], name="export_one_per_format"),
        ]
        indexes = [
            models.Index(
                fields=["job", "updated_at"],
                name="export_active",
                condition=Q(status__in=["waiting", "queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.format} export of {self.job_id} ({self.status})"

    @property
    def extension(self) -> str:
        return "zip" if self.format == self.Format.PNG else str(self.format)

    @property
    def content_type(self) -> str:
        return {
            self.Format.WEBM: "video/webm",
            self.Format.MOV: "video/quicktime",
            self.Format.PNG: "application/zip",
        }[self.Format(self.format)]

    @property
    def filename(self) -> str:
        return f"{self.job.public_id}-alpha.{self.extension}"
