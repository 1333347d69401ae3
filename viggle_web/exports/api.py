"""The exports part of the Viggle-compatible API (/api/render/{id}/exports). Token-authenticated
like the rest of /api/; the shapes are ours (Viggle has no exports), in the same style: links are
absolute, signed and expire like ``cdn_url``."""

from __future__ import annotations

import json
from typing import Any

from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, JsonResponse

from viggle_web.accounts.models import User
from viggle_web.exports import selectors, services
from viggle_web.exports.models import Export
from viggle_web.gateway import errors
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.payloads import Absolute, iso, signed_url
from viggle_web.gateway.views import api_endpoint
from viggle_web.renders.models import RenderJob


def export_payload(export: Export, absolute: Absolute) -> dict[str, Any]:
    ready = export.status == Export.Status.COMPLETE and bool(export.file)
    url = (
        signed_url(absolute, kind="export", ident=export.job.public_id, which=export.format)
        if ready
        else None
    )
    return {
        "format": export.format,
        "status": export.status,
        "progress_pct": export.progress_pct,
        "url": url,
        "content_type": export.content_type,
        "filename": export.filename,
        "size_bytes": export.size if ready else None,
        "frames": export.frames if ready else None,
        "duration_seconds": export.duration_seconds if ready else None,
        "width": export.width if ready else None,
        "height": export.height if ready else None,
        "error_message": export.error_message or None,
        "created_at": iso(export.created_at),
        "completed_at": iso(export.completed_at),
    }


def exports_payload(job: RenderJob, absolute: Absolute) -> list[dict[str, Any]]:
    """The job's exports, for GET /api/render/{id} (empty unless the result is transparent)."""
    if job.background_mode != RenderJob.Background.TRANSPARENT:
        return []
    return [export_payload(e, absolute) for e in selectors.exports_of(job)]


def _requested_format(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(errors.VALIDATION, "The JSON body could not be read")
        value = body.get("format") if isinstance(body, dict) else None
    else:
        value = request.POST.get("format")
    if not isinstance(value, str) or value not in Export.Format.values:
        raise ApiError(errors.VALIDATION, "format must be one of: webm, mov, png")
    return value


@api_endpoint(methods=("GET", "POST"))
def render_exports(request: HttpRequest, user: User, job_id: str) -> HttpResponse:
    job = RenderJob.objects.filter(public_id=job_id).first()
    if job is None:
        raise ApiError(errors.NOT_FOUND, "Job not found")
    absolute = request.build_absolute_uri
    if request.method == "GET":
        return JsonResponse({"job_id": job.public_id, "exports": exports_payload(job, absolute)})
    if not user.may_manage(job.owner_id):  # access first: a refusal says nothing of the body
        raise ApiError(
            errors.FORBIDDEN, "Only the member who started this job or an admin can export it"
        )
    fmt = _requested_format(request)
    try:
        export = services.export_request(job=job, actor=user, fmt=fmt)
    except services.ExportRefused as exc:
        raise ApiError(errors.VALIDATION, " ".join(exc.messages))
    return JsonResponse(export_payload(export, absolute), status=202)


def export_download_target(*, job_public_id: str, fmt: str) -> Export | None:
    """For the gateway's signed-download view: the finished export a token points at."""
    return (
        Export.objects.select_related("job")
        .filter(job__public_id=job_public_id, format=fmt, status=Export.Status.COMPLETE)
        .exclude(file="")
        .first()
    )


def export_download(ident: str, which: str) -> tuple[FieldFile, str, str] | None:
    """The gateway's signed link of kind "export" (job public id, format): the file, its name
    and type (registered with gateway.registry)."""
    export = export_download_target(job_public_id=ident, fmt=which)
    if export is None:
        return None
    return export.file, export.filename, export.content_type
