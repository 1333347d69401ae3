"""A batch: several renders submitted together (characters x motions with shared options).

Batches sit above renders: a batch item points at its render job, the job knows nothing of the
batch. Retrying a failed item points the item at the new job (the failed one stays in the renders
list as history)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from viggle_web.renders.models import Submission


def new_batch_id() -> str:
    return "b_" + secrets.token_urlsafe(18)


class Batch(Submission):
    """Several renders submitted together; ``estimate_credits`` is the total estimate."""

    public_id = models.CharField(max_length=40, unique=True, default=new_batch_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="render_batches"
    )
    model = models.CharField(max_length=16)
    background_mode = models.CharField(max_length=16)

    class Meta(Submission.Meta):
        indexes = [models.Index(fields=["owner", "-created_at"], name="batch_owner_newest")]

    def __str__(self) -> str:
        return self.public_id


class BatchItem(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    job = models.OneToOneField(
        "renders.RenderJob", on_delete=models.PROTECT, related_name="batch_item"
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="batch_item_position")
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.position}"


class Result(models.Model):
    """A finished render published to the gallery: its video as an ordinary gallery asset
    (a motion video: taggable, favouritable, searchable, archivable, usable as the motion of a
    next render), with its lineage and the team's approval."""

    asset = models.OneToOneField(
        "assets.Asset", on_delete=models.CASCADE, related_name="render_result"
    )
    job = models.OneToOneField(
        "renders.RenderJob", on_delete=models.PROTECT, related_name="gallery_result"
    )
    # "Hero × Walk · V4 Preview, original background, normal speed": written once, from the job.
    lineage = models.CharField(max_length=300)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"result of {self.job_id}"


def new_share_key() -> str:
    return secrets.token_urlsafe(24)


class ShareLink(models.Model):
    """A link for someone outside the team to one result, or to the results of a collection:
    signed (the URL carries the key and its signature), with an expiry chosen at creation,
    revocable."""

    key = models.CharField(max_length=64, unique=True, default=new_share_key, editable=False)
    result = models.ForeignKey(
        Result, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    collection = models.ForeignKey(
        "Collection", null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(result__isnull=True) ^ models.Q(collection__isnull=True),
                name="share_link_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"share link {self.pk}"

    @property
    def target_name(self) -> str:
        return self.result.asset.name if self.result_id else f"Collection {self.collection.name}"


class Collection(models.Model):
    """A named group of gallery assets and results (a campaign, a client), shared by the team."""

    name = models.CharField(max_length=100, unique=True)
    assets = models.ManyToManyField("assets.Asset", blank=True, related_name="collections")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
