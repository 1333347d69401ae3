"""The job page's exports: ask for one, follow them live, download them. Thin: the render's own
access check (team reads, owner or admin writes), a form, a service, a template."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from viggle_web.core.files import serve_file
from viggle_web.exports import selectors, services
from viggle_web.exports.forms import ExportFileForm, ExportRequestForm, ExportStreamForm
from viggle_web.exports.models import Export
from viggle_web.exports.stream import ExportStream
from viggle_web.renders.models import RenderJob
from viggle_web.renders.stream import parse_since
from viggle_web.renders.views import _get_job_for_user

SECTION = "exports/section.html"


def section_context(job: RenderJob, request: HttpRequest) -> dict:
    exports = list(selectors.exports_of(job))
    return {
        "job": job,
        "exports": exports,
        "exports_active": any(e.is_active for e in exports),
        "formats": Export.Format.choices,
        "can_export": request.user.may_manage(job.owner_id),
        "since": timezone.now().isoformat(),
    }


@require_POST
def export_request(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _get_job_for_user(request, public_id, write=True)
    form = ExportRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for e in form.errors.values() for m in e))
    else:
        try:
            export = services.export_request(
                job=job, actor=request.user, fmt=form.cleaned_data["format"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, f"{export.get_format_display()}: {export.get_status_display().lower()}."
            )
    if request.htmx:
        job.refresh_from_db()
        return render(request, f"{SECTION}#exports", section_context(job, request))
    return redirect(reverse("renders:detail", args=[job.public_id]) + "#exports")


@require_GET
def export_download(request: HttpRequest, public_id: str, fmt: str) -> HttpResponse:
    job = _get_job_for_user(request, public_id)
    form = ExportFileForm(request.GET)
    if not form.is_valid():
        raise Http404("No such file.")
    export = Export.objects.filter(job=job, format=fmt, status=Export.Status.COMPLETE).first()
    if export is None:
        raise Http404("This export is not ready.")
    if form.cleaned_data["file"] == "still":
        if not export.still:
            raise Http404("This export has no still.")
        return serve_file(
            request,
            name=export.still.name,
            content_type="image/png",
            filename=f"{job.public_id}-alpha.png",
        )
    if not export.file:
        raise Http404("This export's file was deleted.")
    return serve_file(
        request,
        name=export.file.name,
        content_type=export.content_type,
        filename=export.filename,
        attachment=request.GET.get("inline") != "1",
    )


@require_GET
def export_stream(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _get_job_for_user(request, public_id)
    form = ExportStreamForm(request.GET)
    if not form.is_valid():
        return HttpResponse("Bad stream parameters.", status=400)
    since = parse_since(request.headers.get("Last-Event-ID")) or parse_since(
        form.cleaned_data["since"]
    )

    def render_section(fresh: RenderJob) -> str:
        context = {**section_context(fresh, request), "streaming": True}
        return render_to_string(f"{SECTION}#exports", context, request=request)

    stream = ExportStream(job=job, since=since, render=render_section)
    is_async = isinstance(request, ASGIRequest)
    content = stream.iter_async() if is_async else stream.iter_sync()
    if is_async:
        connection.close()  # as the render stream: an open stream holds no DB connection
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
