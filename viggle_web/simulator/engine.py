"""The simulator's behaviour: timing, credits, job settlement and output rendering.

Timing model (seconds at speed 1; every duration is divided by the speed knob, taken when the
job or asset is created):
- render, on demand: 8 + 4 per output second (a 2 s clip: 16 s); preprocessed inputs: a third
  of that; fast mode: half again. The first 10% of the time the job is `queued`.
- character: 6 s (`pending` for the first 20%, then `processing`, then `ready`).
- scene: 2 + 1 per video second (`pending`, then `ready`); template import: 4 s.
Progress is computed from timestamps on every read. One background thread of the simulator's
own process (``render_ahead``) makes a job's output video in the seconds before its end, so the
status read at its end answers ``complete`` at once, as Viggle's does (its video exists when it
says so); a job it did not reach is rendered by the read that finds it ended.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from viggle_web.simulator import media
from viggle_web.simulator.models import SimCharacter, SimJob, SimScene, SimState

logger = logging.getLogger("viggle_web.simulator")

RENDER_BASE_SECONDS = 8.0
RENDER_SECONDS_PER_OUTPUT_SECOND = 4.0
PREPROCESSED_FACTOR = 1 / 3
FAST_FACTOR = 1 / 2
QUEUED_FRACTION = 0.1
FAIL_AT_FRACTION = 0.6
CHARACTER_SECONDS = 6.0
SCENE_BASE_SECONDS = 2.0
TEMPLATE_SECONDS = 4.0
TEMPLATE_CREDITS = 15
TEMPLATE_CLIP = media.VideoInfo(duration=3.0, fps=12.0, frames=36, width=320, height=240)
RENDER_LEASE_SECONDS = 120
RENDER_AHEAD_SECONDS = 3.0  # render_ahead makes the outputs of jobs ending this soon
PUBLIC_PREFIX = "simulator/public/"
INPUT_PREFIX = "simulator/inputs/"


def get_state() -> SimState:
    state, _ = SimState.objects.get_or_create(
        pk=1, defaults={"credits": Decimal(settings.VIGGLE_SIMULATOR_CREDITS)}
    )
    return state


def speed() -> float:
    value = get_state().speed
    return float(value if value else settings.VIGGLE_SIMULATOR_SPEED)


def render_seconds(output_seconds: float, *, preprocessed: bool, fast: bool) -> float:
    seconds = RENDER_BASE_SECONDS + RENDER_SECONDS_PER_OUTPUT_SECOND * output_seconds
    if preprocessed:
        seconds *= PREPROCESSED_FACTOR
    if fast:
        seconds *= FAST_FACTOR
    return seconds


def render_cost(output_seconds: float, *, fast: bool) -> int:
    seconds = max(1, math.ceil(output_seconds - 0.01))
    return seconds * (2 if fast else 1)


def charge(amount: int) -> bool:
    """Take `amount` credits if the balance covers it (atomic); False when it does not."""
    if amount <= 0:
        get_state()
        return True
    get_state()
    return bool(
        SimState.objects.filter(pk=1, credits__gte=amount).update(credits=F("credits") - amount)
    )


def refund(amount: int) -> None:
    if amount > 0:
        get_state()
        SimState.objects.filter(pk=1).update(credits=F("credits") + amount)


def take_fail_flag() -> bool:
    get_state()
    return bool(
        SimState.objects.filter(pk=1, fail_next_jobs__gt=0).update(
            fail_next_jobs=F("fail_next_jobs") - 1
        )
    )


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}" if prefix else str(uuid.uuid4())


def save_input(name: str, fileobj: Any) -> str:
    fileobj.seek(0)
    return default_storage.save(f"{INPUT_PREFIX}{name}", File(fileobj, name=name))


def public_url(request: Any, name: str) -> str:
    from django.urls import reverse

    relative = name.removeprefix(PUBLIC_PREFIX)
    return request.build_absolute_uri(reverse("simulator:cdn_file", args=[relative]))


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --- jobs ----------------------------------------------------------------------------------


def fraction(job: SimJob, now: datetime) -> float:
    total = (job.finish_at - job.started_at).total_seconds()
    if total <= 0:
        return 1.0
    return max(0.0, min(1.0, (now - job.started_at).total_seconds() / total))


def progress_of(frac: float) -> int:
    if frac < QUEUED_FRACTION:
        return 0
    return min(99, int(frac * 100))


def checkpoint_of(job: SimJob, frac: float) -> str | None:
    if frac < QUEUED_FRACTION:
        return None
    preprocessed = job.mode == "preprocessed" or bool(job.scene_id)
    steps = [
        (0.95, "render_done"),
        (0.7, "bg_done"),
        (QUEUED_FRACTION if preprocessed else 0.5, "dri_done"),
        (QUEUED_FRACTION if preprocessed else 0.3, "ref_done"),
    ]
    for threshold, name in steps:
        if frac >= threshold:
            return name
    return None


def settle(job: SimJob, now: datetime) -> SimJob:
    """Move a job whose time is up to its final state (once, whoever reads first)."""
    if job.state not in (SimJob.State.ACTIVE, SimJob.State.RENDERING):
        return job
    frac = fraction(job, now)
    if job.will_fail and job.state == SimJob.State.ACTIVE and frac >= FAIL_AT_FRACTION:
        _fail(job, "CS-UORC01-009", "Render failed: the model could not track the motion")
        return SimJob.objects.get(pk=job.pk)
    if frac < 1.0:
        return job
    lease_over = now - timedelta(seconds=RENDER_LEASE_SECONDS)
    claimed = SimJob.objects.filter(
        Q(state=SimJob.State.ACTIVE)
        | Q(state=SimJob.State.RENDERING, render_claimed_at__lt=lease_over),
        pk=job.pk,
    ).update(state=SimJob.State.RENDERING, render_claimed_at=now)
    if claimed:
        job.refresh_from_db(fields=["prepared_output", "prepared_mask"])
        try:
            if job.prepared_output:
                output, mask = job.prepared_output, job.prepared_mask
            else:
                output, mask = _render(job)
        except Exception as exc:
            logger.exception("simulator render of %s failed", job.pk)
            _fail(
                job, "CS-UORC01-009", f"Render failed: {type(exc).__name__}", allow_rendering=True
            )
        else:
            SimJob.objects.filter(pk=job.pk, state=SimJob.State.RENDERING).update(
                state=SimJob.State.COMPLETE,
                output=output,
                mask=mask,
                ended_at=timezone.now(),
                end_progress=100,
            )
    return SimJob.objects.get(pk=job.pk)


def _fail(job: SimJob, code: str, message: str, *, allow_rendering: bool = False) -> None:
    states = [SimJob.State.ACTIVE] + ([SimJob.State.RENDERING] if allow_rendering else [])
    now = timezone.now()
    with transaction.atomic():
        if SimJob.objects.filter(pk=job.pk, state__in=states).update(
            state=SimJob.State.FAILED,
            ended_at=now,
            end_progress=progress_of(fraction(job, now)),
            error_code=code,
            error_message=message,
        ):
            refund(job.credits)


def cancel(job: SimJob) -> bool:
    now = timezone.now()
    with transaction.atomic():
        done = SimJob.objects.filter(pk=job.pk, state=SimJob.State.ACTIVE).update(
            state=SimJob.State.CANCELLED,
            ended_at=now,
            end_progress=progress_of(fraction(job, now)),
        )
        if done:
            refund(job.credits)
    if done:
        job.refresh_from_db(fields=["prepared_output", "prepared_mask"])
        _delete_files(job.prepared_output, job.prepared_mask)  # made ahead, never to be shown
    return bool(done)


def render_ahead(now: datetime, *, limit: int = 4, skip: set[str] | None = None) -> list[str]:
    """Make the output of active jobs ending within RENDER_AHEAD_SECONDS (soonest first), kept
    as ``prepared_output`` until ``settle`` takes it at the job's end. A job that ended (or was
    cancelled) meanwhile keeps nothing: its reader rendered it, or nobody needs it. Jobs that
    will fail are left alone; ``skip`` holds ids whose render failed here (the read at their
    end tries again and fails the job as it would have). Returns the ids prepared."""
    due = SimJob.objects.filter(
        state=SimJob.State.ACTIVE,
        will_fail=False,
        prepared_output="",
        finish_at__lte=now + timedelta(seconds=RENDER_AHEAD_SECONDS),
    ).exclude(pk__in=skip or ())
    prepared = []
    for job in due.order_by("finish_at")[:limit]:
        try:
            output, mask = _render(job)
        except Exception:
            logger.exception("simulator render ahead of %s failed", job.pk)
            if skip is not None:
                skip.add(job.pk)
            continue
        kept = SimJob.objects.filter(pk=job.pk, state=SimJob.State.ACTIVE).update(
            prepared_output=output, prepared_mask=mask
        )
        if kept:
            prepared.append(job.pk)
        else:
            _delete_files(output, mask)
    return prepared


def render_ahead_forever(interval: float = 0.25) -> None:
    """The simulator process's renderer thread (management command viggle_simulator)."""
    from django.db import close_old_connections

    failed: set[str] = set()
    while True:
        try:
            if not render_ahead(timezone.now(), skip=failed):
                time.sleep(interval)
        except Exception:  # the database went away a moment: try again, do not stop
            logger.exception("The simulator's renderer failed")
            close_old_connections()
            time.sleep(1.0)


def _delete_files(*names: str) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def job_payload(job: SimJob, request: Any, now: datetime) -> dict[str, Any]:
    frac = fraction(job, now)
    data: dict[str, Any] = {
        "job_id": job.job_id,
        "mode": job.mode,
        "created_at": iso(job.created_at),
        "completed_at": None,
        "cdn_url": None,
        "download_url": None,
        "error": None,
        "error_code": None,
        "error_message": None,
        "chunks": [],
    }
    if job.state == SimJob.State.COMPLETE:
        url = public_url(request, job.output)
        data.update(
            status="complete",
            progress_pct=100,
            checkpoint="render_done",
            cdn_url=url,
            download_url=url,
            completed_at=iso(job.ended_at),
        )
        if job.mask:
            data["mask_cdn_url"] = public_url(request, job.mask)
    elif job.state == SimJob.State.FAILED:
        data.update(
            status="failed",
            progress_pct=job.end_progress,
            checkpoint=checkpoint_of(job, job.end_progress / 100),
            error="render_failed",
            error_code=job.error_code,
            error_message=job.error_message,
            completed_at=iso(job.ended_at),
        )
    elif job.state == SimJob.State.CANCELLED:
        data.update(
            status="cancelled",
            progress_pct=job.end_progress,
            checkpoint=checkpoint_of(job, job.end_progress / 100),
            completed_at=iso(job.ended_at),
        )
    else:
        data.update(
            status="queued" if frac < QUEUED_FRACTION else "processing",
            progress_pct=progress_of(frac),
            checkpoint=checkpoint_of(job, frac),
        )
    data["progress"] = {
        "completed_chunks": 1 if data["status"] == "complete" else 0,
        "total_chunks": 1,
        "percent": data["progress_pct"],
    }
    return data


def _open_image(name: str) -> Image.Image:
    with default_storage.open(name, "rb") as fh:
        img = Image.open(fh)
        img.load()
    return img


def _render(job: SimJob) -> tuple[str, str]:
    """Make the output MP4 (and mask) for a finished job; returns their storage names."""
    characters: list[Image.Image | None]
    video_name = job.driving_video
    synthetic = None
    if job.scene_id:
        scene = SimScene.objects.get(pk=job.scene_id)
        video_name = scene.video
        if not video_name:
            synthetic = TEMPLATE_CLIP
        segments = [s["uuid"] for s in scene.segments] or ["person"]
        if job.character_mapping:
            mapping = job.character_mapping
            images = {
                cid: _open_image(SimCharacter.objects.get(pk=cid).image)
                for cid in set(mapping.values())
            }
            if scene.segments:
                characters = [images[mapping[seg]] if seg in mapping else None for seg in segments]
            else:
                characters = [images[next(iter(mapping.values()))]]
        else:
            image = _open_image(SimCharacter.objects.get(pk=job.character_id).image)
            characters = [image] + [None] * (len(segments) - 1)
    else:
        characters = [_open_image(job.ref_image)]
    red, green, blue = (int(part) for part in job.bg_color.split(","))
    want_mask = job.background_mode == "transparent"
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(default_storage.open(video_name, "rb")) if video_name else None
        out = stack.enter_context(tempfile.TemporaryFile(suffix=".mp4"))
        mask_out = stack.enter_context(tempfile.TemporaryFile(suffix=".mp4")) if want_mask else None
        frames, rate, size = media.source_frames(source, synthetic)
        media.render_output(
            frames=frames,
            rate=rate,
            size=size,
            characters=characters,
            background_mode=job.background_mode,
            bg_color=(red, green, blue),
            out=out,
            mask_out=mask_out,
        )
        token = uuid.uuid4().hex[:12]
        out.seek(0)
        output = default_storage.save(
            f"{PUBLIC_PREFIX}renders/{job.job_id}-{token}.mp4", File(out, name="out.mp4")
        )
        mask = ""
        if mask_out is not None:
            mask_out.seek(0)
            mask = default_storage.save(
                f"{PUBLIC_PREFIX}renders/{job.job_id}-{token}-mask.mp4",
                File(mask_out, name="mask.mp4"),
            )
    return output, mask


# --- characters and scenes -------------------------------------------------------------------


def character_status(character: SimCharacter, now: datetime) -> str:
    if now >= character.ready_at:
        return "ready"
    total = (character.ready_at - character.created_at).total_seconds()
    elapsed = (now - character.created_at).total_seconds()
    return "pending" if total <= 0 or elapsed < 0.2 * total else "processing"


def character_payload(character: SimCharacter, request: Any, now: datetime) -> dict[str, Any]:
    status = character_status(character, now)
    return {
        "id": character.id,
        "name": character.name,
        "status": status,
        "job_id": character.job_id,
        "error": None,
        "error_message": None,
        "thumbnail_url": (
            public_url(request, character.image)
            if character.image.startswith(PUBLIC_PREFIX)
            else None
        ),
        "credits_used": character.credits_used,
        "created_at": iso(character.created_at),
        "completed_at": iso(character.ready_at) if status == "ready" else None,
    }


TEMPLATE_FAIL_MESSAGE = "Template import failed: the template could not be processed"


def scene_status(scene: SimScene, now: datetime) -> str:
    if now < scene.ready_at:
        return "pending"
    if scene.fail_message:
        if not scene.refunded and SimScene.objects.filter(pk=scene.pk, refunded=False).update(
            refunded=True
        ):
            refund(scene.credits_reserved)  # a failed import gives its reservation back
        return "failed"
    return "ready"


def scene_payload(scene: SimScene, now: datetime) -> dict[str, Any]:
    status = scene_status(scene, now)
    # A template's clip is known only once Viggle has processed it: null until then.
    known = status == "ready" or not scene.template_id
    data = {
        "id": scene.id,
        "name": scene.name,
        "status": status,
        "duration_seconds": round(scene.duration_seconds, 3) if known else None,
        "fps": round(scene.fps, 3) if known else None,
        "total_frames": scene.total_frames if known else None,
        "width": scene.width if known else None,
        "height": scene.height if known else None,
        "job_id": scene.job_id,
        "error_message": scene.fail_message if status == "failed" else None,
        "credits_used": scene.credits_reserved if status != "failed" else 0,
        "model": scene.model,
        "background_mode": scene.background_mode,
        "created_at": iso(scene.created_at),
        "completed_at": iso(scene.ready_at) if status != "pending" else None,
    }
    if scene.template_id:
        data["template_id"] = scene.template_id
        data["segments"] = scene.segments
    return data


def take_import_fail_flag() -> bool:
    get_state()
    return bool(
        SimState.objects.filter(pk=1, fail_next_imports__gt=0).update(
            fail_next_imports=F("fail_next_imports") - 1
        )
    )


def after(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds / speed())
