"""The JSON shapes of the API's answers (viggle-api.md's field lists). Links are absolute and
signed; upstream ids and URLs are never part of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.urls import reverse

from viggle_web.assets.models import ViggleResource
from viggle_web.gateway import registry
from viggle_web.gateway.models import ApiObject
from viggle_web.gateway.services import (
    CHARACTER_CREDITS,
    api_mode,
    api_status,
    download_sign,
    object_resource,
)
from viggle_web.renders.models import RenderJob
from viggle_web.usage.selectors import template_import_credits

Absolute = Callable[[str], str]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def signed_url(absolute: Absolute, *, kind: str, ident: str | int, which: str) -> str:
    token = download_sign(kind=kind, ident=ident, which=which)
    return absolute(reverse("gateway:signed_download", args=[token]))


def render_created(job: RenderJob) -> dict[str, Any]:
    status_url = reverse("gateway:render_detail", args=[job.public_id])
    return {
        "job_id": job.public_id,
        "status": api_status(job),
        "mode": api_mode(job),
        "enqueued_at": iso(job.created_at),
        "credits_charged": job.estimate_credits,
        "poll_url": status_url,
        "status_url": status_url,
    }


def render_status(job: RenderJob, absolute: Absolute) -> dict[str, Any]:
    status = api_status(job)
    complete = status == "complete" and bool(job.output)
    cdn_url = (
        signed_url(absolute, kind="job", ident=job.public_id, which="output") if complete else None
    )
    failed = status == "failed"
    progress = 100 if status == "complete" else job.progress_pct
    data: dict[str, Any] = {
        "job_id": job.public_id,
        "status": status,
        "mode": api_mode(job),
        "progress_pct": progress,
        "checkpoint": job.checkpoint or ("render_done" if status == "complete" else None),
        "cdn_url": cdn_url,
        "download_url": cdn_url,
        "error": "render_failed" if failed else None,
        "error_code": (job.error_code or "CS-UORC01-009") if failed else None,
        "error_message": (job.error_message or "The render failed") if failed else None,
        "created_at": iso(job.created_at),
        "completed_at": iso(job.completed_at),
        "chunks": [],
        "progress": {
            "completed_chunks": 1 if status == "complete" else 0,
            "total_chunks": 1,
            "percent": progress,
        },
    }
    if job.background_mode == RenderJob.Background.TRANSPARENT:
        # "transparent only" (viggle-api.md): other renders have no mask_cdn_url at all.
        data["mask_cdn_url"] = (
            signed_url(absolute, kind="job", ident=job.public_id, which="mask")
            if complete and job.mask
            else None
        )
        # Ours, not Viggle's: fields apps above the gateway add (exports: the alpha exports of
        # the transparent result, POST .../exports), through gateway.registry.
        for name, field in registry.render_fields().items():
            data[name] = field(job, absolute)
    return data


def _resource_fields(obj: ApiObject) -> tuple[str, str, str | None]:
    """(status, error_message, completed_at) of the object's Viggle resource."""
    resource = object_resource(obj)
    if resource is None:
        return "pending", "", None
    done = resource.status in (ViggleResource.Status.READY, ViggleResource.Status.FAILED)
    return str(resource.status), resource.error_message, iso(resource.updated_at) if done else None


def character(obj: ApiObject, absolute: Absolute) -> dict[str, Any]:
    status, error_message, completed_at = _resource_fields(obj)
    thumbnail = (
        signed_url(absolute, kind="asset", ident=obj.asset_id, which="preview")
        if obj.asset.preview
        else None
    )
    return {
        "id": obj.public_id,
        "name": obj.name,
        "status": status,
        "job_id": obj.job_id,
        "error": "preprocess_failed" if status == "failed" else None,
        "error_message": error_message or None,
        "thumbnail_url": thumbnail,
        "credits_used": 1,
        "created_at": iso(obj.created_at),
        "completed_at": completed_at,
    }


def scene(obj: ApiObject) -> dict[str, Any]:
    status, error_message, completed_at = _resource_fields(obj)
    if status == "processing":
        status = "pending"  # scenes know pending, ready, failed
    asset = obj.asset
    frames = asset.total_frames or (
        round(asset.duration_seconds * asset.fps) if asset.duration_seconds and asset.fps else None
    )
    template = asset.kind == asset.Kind.TEMPLATE
    data: dict[str, Any] = {
        "id": obj.public_id,
        "name": obj.name,
        "status": status,
        "model": obj.model or None,
        # As preprocessed (default original); a render from the scene takes it by default.
        "background_mode": obj.background_mode or RenderJob.Background.ORIGINAL,
        "duration_seconds": asset.duration_seconds,
        "fps": asset.fps,
        "total_frames": frames,
        "width": asset.width,
        "height": asset.height,
        "job_id": obj.job_id,
        "error_message": error_message or None,
        "credits_used": template_import_credits(asset_id=asset.pk) if template else 0,
        "created_at": iso(obj.created_at),
        "completed_at": completed_at,
    }
    if template:
        data["template_id"] = asset.template_id
        data["segments"] = asset.segments
    return data


def _enqueued(obj: ApiObject, id_field: str) -> dict[str, Any]:
    """Viggle's answer to a preprocess call: the new object's id and its pending job."""
    return {
        id_field: obj.public_id,
        "job_id": obj.job_id,
        "status": "pending",
        "enqueued_at": iso(obj.created_at),
    }


def scene_created(obj: ApiObject) -> dict[str, Any]:
    return _enqueued(obj, "scene_id")


def character_created(obj: ApiObject) -> dict[str, Any]:
    # Booked to the member for this call, as Viggle books every preprocess (a repeat too).
    return {**_enqueued(obj, "character_id"), "credits_charged": CHARACTER_CREDITS}


def template_imported(obj: ApiObject) -> dict[str, Any]:
    status, _error, _done = _resource_fields(obj)
    return {
        "id": obj.public_id,
        "status": "pending" if status == "processing" else status,
        # What Viggle reserved for the import, as booked to the member in our ledger.
        "credits_reserved": template_import_credits(asset_id=obj.asset_id),
        "segments": obj.asset.segments,
    }
