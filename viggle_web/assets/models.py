"""The shared gallery: characters (images), motions (videos) and imported template scenes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower


def asset_upload_to(instance: Asset, filename: str) -> str:
    # Content-addressed, so the name a member chose never reaches the file system.
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"assets/{instance.sha256[:2]}/{instance.sha256}.{ext[:5]}"


def preview_upload_to(instance: Asset, filename: str) -> str:
    return f"previews/{instance.sha256[:2]}/{instance.sha256}.jpg"


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Asset(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Character image"
        VIDEO = "video", "Motion video"
        TEMPLATE = "template", "Template"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200)
    original_filename = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to=asset_upload_to, max_length=255, blank=True)
    preview = models.FileField(upload_to=preview_upload_to, max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    # Null only for template imports, which have no file of ours.
    sha256 = models.CharField(max_length=64, null=True, blank=True, unique=True)
    size_bytes = models.BigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    # Templates only: the frame count Viggle reports once the import is processed.
    total_frames = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assets"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveIntegerField(default=0)
    tags = models.ManyToManyField(Tag, blank=True, related_name="assets")
    favourited_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="favourite_assets"
    )
    # Template imports: viggle.ai template id and the people in it (keys for character_mapping).
    template_id = models.CharField(max_length=64, blank=True)
    segments = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["-created_at", "-id"],
                name="asset_live_newest",
                condition=Q(archived_at__isnull=True),
            ),
            models.Index(fields=["kind", "-created_at"], name="asset_kind_newest"),
            models.Index(fields=["uploaded_by", "-created_at"], name="asset_owner_newest"),
            # The gallery's other sorts, over live assets only.
            models.Index(
                Lower("name"), "id", name="asset_live_name", condition=Q(archived_at__isnull=True)
            ),
            models.Index(
                F("use_count").desc(),
                F("created_at").desc(),
                name="asset_live_most_used",
                condition=Q(archived_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def people(self) -> list[dict]:
        """A template's people (segments), each with its 1-based number, for pages."""
        return [
            {"number": i, "uuid": s["uuid"], "type": s.get("type") or "human"}
            for i, s in enumerate(
                (s for s in self.segments if isinstance(s, dict) and s.get("uuid")), start=1
            )
        ]

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def preparing(self) -> bool:
        """Whether Viggle is still preparing a character or scene of this asset (cards poll)."""
        return any(
            resource.status in (ViggleResource.Status.PENDING, ViggleResource.Status.PROCESSING)
            for resource in self.viggle_resources.all()
        )

    def resource(self, kind: str, model: str = "") -> ViggleResource | None:
        for resource in self.viggle_resources.all():
            if resource.kind == kind and resource.model == model:
                return resource
        return None

    @property
    def character_resource(self) -> ViggleResource | None:
        return self.resource(ViggleResource.Kind.CHARACTER)

    @property
    def scene_resources(self) -> list[ViggleResource]:
        return [r for r in self.viggle_resources.all() if r.kind == ViggleResource.Kind.SCENE]

    def character_id(self) -> str | None:
        """The ready Viggle character made from this image, if any (serves both models)."""
        for resource in self.viggle_resources.all():
            if resource.kind == ViggleResource.Kind.CHARACTER and resource.is_ready:
                return resource.upstream_id
        return None

    def scene_id(self, model: str) -> str | None:
        """The ready Viggle scene for ``model`` made from this video or template, if any."""
        for resource in self.viggle_resources.all():
            if (
                resource.kind == ViggleResource.Kind.SCENE
                and resource.is_ready
                and resource.model in (model, "")
            ):
                return resource.upstream_id
        return None


class ViggleResource(models.Model):
    """A Viggle character (from an image) or scene (from a video, per model, or an imported
    template) that later renders reuse. The upstream id never reaches a browser."""

    class Kind(models.TextChoices):
        CHARACTER = "character", "Character"
        SCENE = "scene", "Scene"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        PROCESSING = "processing", "Preprocessing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="viggle_resources")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Scenes are bound to a model; characters serve both ("").
    model = models.CharField(max_length=16, blank=True)
    upstream_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error_message = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Worker bookkeeping (core.leases): when it is next due, who holds it until when.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "kind", "model"], name="one_resource_per_asset_kind_model"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_poll_at"],
                name="resource_due",
                condition=Q(status__in=["pending", "processing"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of asset {self.asset_id} ({self.status})"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY and bool(self.upstream_id)


class ResumableUpload(models.Model):
    """A gallery upload sent in chunks over the tus 1.0.0 protocol (assets/resumable.py): the
    bytes so far sit in ``core.uploads.incoming_dir()/<id>.part`` and survive a dropped
    connection; the asset is made when the last byte arrives. Only its member may touch it."""

    id = models.UUIDField(primary_key=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resumable_uploads"
    )
    filename = models.CharField(max_length=255)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    # Once complete: the asset made (or found, for a duplicate), or why it was refused.
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.BooleanField(default=False)
    refusal = models.CharField(max_length=500, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["updated_at"], name="resumable_upload_age")]

    def __str__(self) -> str:
        return f"upload {self.id} of {self.filename} ({self.offset}/{self.length})"
