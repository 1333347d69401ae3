"""The simulator's own state: it survives restarts, like the real service's."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SimState(models.Model):
    """One row (pk=1): the account's credit balance and the knobs tests turn."""

    credits = models.DecimalField(max_digits=14, decimal_places=2)
    speed = models.FloatField(null=True, blank=True)  # None: settings.VIGGLE_SIMULATOR_SPEED
    # Concurrent fast jobs allowed; None = unlimited, 0 = fast mode has no capacity.
    fast_capacity = models.IntegerField(null=True, blank=True)
    fail_next_jobs = models.IntegerField(default=0)
    # Template imports that will fail (upstream's reason in error_message, credits refunded).
    fail_next_imports = models.IntegerField(default=0)
    template_people = models.IntegerField(default=2)
    # "detail": current FastAPI-style bodies; "legacy": top-level error_code/message, old codes.
    error_style = models.CharField(max_length=10, default="detail")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"simulator state ({self.credits} credits)"


class SimFault(models.Model):
    """A fault injected into matching requests: `remaining` None means every match."""

    class Kind(models.TextChoices):
        E500 = "500"
        E502 = "502"
        E503 = "503"
        RATE_LIMIT = "429"
        LATENCY = "latency"
        MALFORMED = "malformed"
        DROP = "drop"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    remaining = models.IntegerField(null=True, blank=True)
    rate = models.FloatField(default=1.0)
    api_key = models.CharField(max_length=200, blank=True, default="")
    path_prefix = models.CharField(max_length=200, blank=True, default="")
    method = models.CharField(max_length=10, blank=True, default="")
    retry_after = models.FloatField(null=True, blank=True)
    latency_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} fault on {self.path_prefix or '*'}"


class SimCall(models.Model):
    """Every API request the simulator saw (the control endpoint's calls log)."""

    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.IntegerField(null=True)
    authorized = models.BooleanField(default=False)
    has_auth_header = models.BooleanField(default=False)
    fault = models.CharField(max_length=10, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)  # the request's arrival

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class SimPrepared(models.Model):
    """What a preprocessed character and a scene share: Viggle's id and job id, a name, when it
    was made and is ready, and a soft delete."""

    id = models.CharField(primary_key=True, max_length=64)
    job_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    ready_at = models.DateTimeField()
    deleted = models.BooleanField(default=False)

    class Meta:
        abstract = True
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class SimCharacter(SimPrepared):
    image = models.CharField(max_length=300)  # storage name
    credits_used = models.IntegerField(default=1)


class SimScene(SimPrepared):
    video = models.CharField(max_length=300, blank=True)  # storage name; blank for templates
    template_id = models.CharField(max_length=64, blank=True)
    segments = models.JSONField(default=list)
    credits_reserved = models.IntegerField(default=0)
    model = models.CharField(max_length=20, default="V4_Preview")
    background_mode = models.CharField(max_length=20, default="original")
    duration_seconds = models.FloatField()
    fps = models.FloatField()
    total_frames = models.IntegerField()
    width = models.IntegerField()
    height = models.IntegerField()
    # A template import that fails when its time is up (knob fail_next_imports): the reason
    # upstream gives, and whether its reserved credits went back (once, whoever reads first).
    fail_message = models.CharField(max_length=300, blank=True)
    refunded = models.BooleanField(default=False)


class SimJob(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"  # queued or processing: which one is computed from the clock
        RENDERING = "rendering"  # finished on the clock; one reader is making the MP4
        COMPLETE = "complete"
        FAILED = "failed"
        CANCELLED = "cancelled"

    job_id = models.CharField(primary_key=True, max_length=64)
    mode = models.CharField(max_length=20)
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    fast = models.BooleanField(default=False)
    model = models.CharField(max_length=20, default="V4_Preview")
    background_mode = models.CharField(max_length=20, default="original")
    bg_color = models.CharField(max_length=20, default="0,255,0")
    ref_image = models.CharField(max_length=300, blank=True)  # storage names
    driving_video = models.CharField(max_length=300, blank=True)
    character_id = models.CharField(max_length=64, blank=True)
    scene_id = models.CharField(max_length=64, blank=True)
    character_mapping = models.JSONField(default=dict)
    output_seconds = models.FloatField()
    credits = models.IntegerField()
    will_fail = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField()
    finish_at = models.DateTimeField()
    render_claimed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_progress = models.IntegerField(default=0)
    output = models.CharField(max_length=300, blank=True)
    mask = models.CharField(max_length=300, blank=True)
    # Made ahead of its end by the simulator's renderer (engine.render_ahead), taken at the end.
    prepared_output = models.CharField(max_length=300, blank=True)
    prepared_mask = models.CharField(max_length=300, blank=True)
    error_code = models.CharField(max_length=30, blank=True)
    error_message = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.job_id} ({self.state})"
