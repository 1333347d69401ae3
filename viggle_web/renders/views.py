from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from viggle_web.accounts.permissions import admin_required
from viggle_web.assets.models import Asset
from viggle_web.core.errors import ApplicationError
from viggle_web.core.files import serve_file
from viggle_web.core.filters import filter_values, render_filtered
from viggle_web.core.formviews import form_view
from viggle_web.renders import presenters, selectors, services, signals
from viggle_web.renders.forms import (
    DownloadForm,
    JobFilterForm,
    RenderForm,
    ResolveSendForm,
    StreamForm,
)
from viggle_web.renders.models import RenderJob
from viggle_web.renders.stream import JobStream, parse_since
from viggle_web.usage.selectors import budget_status

PICKER_LIMIT = 300


def _get_job_for_user(request: HttpRequest, public_id: str, *, write: bool = False) -> RenderJob:
    """Renders are shared with the whole team for reading; changing one takes its owner or an
    admin."""
    job = get_object_or_404(selectors.jobs_for_display(), public_id=public_id)
    if write and not request.user.may_manage(job.owner_id):
        raise PermissionDenied("Only the member who started this render or an admin can do that.")
    return job


def _picker_assets(kind_filter: list[str], selected: Asset | None) -> list[Asset]:
    assets = list(
        Asset.objects.filter(kind__in=kind_filter, archived_at__isnull=True)
        .prefetch_related("viggle_resources")  # pickers mark which are Viggle characters
        .order_by("-created_at")[:PICKER_LIMIT]
    )
    if selected is not None and selected not in assets:
        assets.insert(0, selected)
    return assets


def _form_context(request: HttpRequest, form: RenderForm) -> dict:
    def chosen(name: str) -> Asset | None:
        value = form.data.get(name) if form.is_bound else form.initial.get(name)
        if isinstance(value, Asset):
            return value
        try:
            return Asset.objects.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            return None

    character, motion = chosen("character"), chosen("motion")
    fast = (form.data.get("fast") in ("on", "true", "1")) if form.is_bound else False
    # No length yet (a template Viggle is still importing): no estimate rather than 0 credits.
    known = motion is not None and bool(motion.duration_seconds)
    estimate = services.render_estimate(motion=motion, fast=fast) if known else None
    budget = budget_status(user=request.user)
    return {
        "form": form,
        "characters": _picker_assets([Asset.Kind.IMAGE], character),
        "motions": _picker_assets([Asset.Kind.VIDEO, Asset.Kind.TEMPLATE], motion),
        "selected_character": character,
        "selected_motion": motion,
        "estimate": estimate,
        "budget": budget,
        "start_blocked": _start_blocked(estimate, budget.remaining),
        "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
        "preview_url_zero": reverse("gallery:preview", args=[0]),
    }


def _start_blocked(estimate: int | None, remaining: int | None) -> str:
    """Why Start is disabled: the estimate is more than the member has left this month (their
    own cap or the organisation's). job_submit checks again under locks; this is the early word."""
    if estimate is None or remaining is None or estimate <= remaining:
        return ""
    have = f"{remaining} credit{'s' if remaining != 1 else ''}"
    return (
        f"Start is off: this render needs {estimate} credit{'s' if estimate != 1 else ''} and "
        f"{have} are left this month. Choose a shorter motion or normal speed, or ask an admin "
        "to raise the budget."
    )


def _form_initial(request: HttpRequest) -> dict[str, str]:
    """The form opened from a link: "Render with this", "Render again" (a template render's
    people come back as segment_<uuid>=<character>)."""
    initial = {}
    for name in ("character", "motion"):
        if request.GET.get(name, "").isdigit():
            initial[name] = request.GET[name]
    for name in ("model", "background_mode", "bg_color"):
        if name in request.GET:
            initial[name] = request.GET[name][:20]
    for name, value in request.GET.items():
        if name.startswith("segment_") and len(name) <= 100 and value.isdigit():
            initial[name] = value
    return initial


@require_http_methods(["GET", "POST"])
def job_new(request: HttpRequest) -> HttpResponse:
    # The live part of the form (estimate, template people) is refreshed as options change.
    return form_view(
        request,
        RenderForm,
        template="renders/new.html",
        context=_form_context,
        initial=_form_initial,
        submit=_job_submit,
    )


def _job_submit(request: HttpRequest, form: RenderForm) -> HttpResponse:
    data = form.cleaned_data
    job = services.job_submit(
        owner=request.user,
        idempotency_key=data["idempotency_key"],
        request=services.RenderRequest(
            character=data["character"],
            motion=data["motion"],
            character_mapping=form.mapping() or None,
            **form.options(),
        ),
    )
    # Apps above renders act on their own options (exports: alpha_exports).
    signals.job_submitted.send(
        RenderJob,
        job=job,
        actor=request.user,
        options={"alpha_exports": bool(data.get("alpha_exports"))},
    )
    messages.success(request, "Render started. This page updates by itself.")
    return redirect("renders:detail", public_id=job.public_id)


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _filtered_jobs(data: dict) -> QuerySet[RenderJob]:
    """The renders list's jobs under its filters (a refused filter is None and left out)."""
    return selectors.job_list(
        member=data["member"],
        status=data["status"] or "",
        asset_id=data["asset"],
        group=data["group"] or "",
        date_from=data["date_from"],
        date_to=data["date_to"],
    )


@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    filters = JobFilterForm(request.GET)
    data = filter_values(filters)
    jobs = _filtered_jobs(data)
    page = Paginator(jobs, 25).get_page(data["page"] or 1)
    page.object_list = selectors.jobs_name_casts(list(page.object_list))
    active = [job.public_id for job in page.object_list if job.is_active]
    return render_filtered(
        request,
        "renders/list.html",
        filters,
        {
            "page": page,
            "active_ids": ",".join(active),
            "since": timezone.now().isoformat(),
            "stream_query": _query_without(request, "page"),
        },
    )


@require_GET
def job_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _get_job_for_user(request, public_id)
    return render(
        request,
        "renders/detail.html",
        {
            "job": job,
            "since": timezone.now().isoformat(),
            "rerun_key": uuid.uuid4().hex,
            "cast": selectors.job_cast(job),
            "again_query": selectors.job_again_query(job),
        },
    )


def _owner_action(
    request: HttpRequest, public_id: str, action: Callable[..., object], done: str
) -> HttpResponse:
    """A POST that changes a job (owner or admin): run the service, say how it went, go back.
    A refusal (an ApplicationError) is shown by core's ApplicationErrorMiddleware on the page
    the member came from."""
    job = _get_job_for_user(request, public_id, write=True)
    action(job=job, actor=request.user)
    messages.success(request, done)
    return redirect("renders:detail", public_id=job.public_id)


@require_POST
def job_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    return _owner_action(
        request, public_id, services.job_cancel, "Render cancelled; its credits were refunded."
    )


@require_POST
def job_rerun(request: HttpRequest, public_id: str) -> HttpResponse:
    """Retry a failed job, or render again at normal speed (``fast=0``)."""
    job = _get_job_for_user(request, public_id)
    key = request.POST.get("idempotency_key", "")
    if not (8 <= len(key) <= 80 and key.replace("-", "").replace("_", "").isalnum()):
        return HttpResponseBadRequest("The form is damaged; reload the page.")
    changes = {"fast": False} if request.POST.get("fast") == "0" else {}
    try:
        new = services.job_rerun(job=job, actor=request.user, idempotency_key=key, **changes)
    except ApplicationError as exc:  # over budget, or a refused input
        messages.error(request, exc.message)
        return redirect("renders:detail", public_id=job.public_id)
    messages.success(request, "Render started again.")
    return redirect("renders:detail", public_id=new.public_id)


@require_POST
@admin_required
def job_resolve(request: HttpRequest, public_id: str) -> HttpResponse:
    """An admin links the upstream job of a render whose send outcome was unknown, or releases
    its credits."""
    job = _get_job_for_user(request, public_id, write=True)
    form = ResolveSendForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("The form is damaged; reload the page.")
    release = form.cleaned_data["action"] == "release"
    try:
        services.job_resolve_send(
            job=job,
            actor=request.user,
            upstream_job_id=form.cleaned_data["upstream_job_id"],
            release=release,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Credits released." if release else "Linked to the Viggle job; it is followed now.",
        )
    return redirect("renders:detail", public_id=job.public_id)


@require_POST
def job_delete_files(request: HttpRequest, public_id: str) -> HttpResponse:
    return _owner_action(
        request,
        public_id,
        services.job_delete_files,
        "The render's files were deleted; its record and usage stay.",
    )


@require_GET
def job_download(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _get_job_for_user(request, public_id)
    form = DownloadForm(request.GET)
    if not form.is_valid():
        raise Http404("No such file.")
    which = form.cleaned_data["file"]
    field = getattr(job, which)
    if not field:
        raise Http404("This render has no such file (yet).")
    return serve_file(
        request,
        name=field.name,
        storage=field.storage,
        content_type="image/jpeg" if which == "poster" else "video/mp4",
        filename=presenters.download_name(selectors.jobs_name_casts([job])[0], which),
        attachment=request.GET.get("inline") != "1",
    )


def _renderer(request: HttpRequest, view: str):
    template = "renders/detail.html#status" if view == "detail" else "renders/list.html#row"

    def render_job(job: RenderJob) -> str:
        return render_to_string(template, {"job": job, "streaming": True}, request=request)

    return render_job


@require_GET
def job_stream(request: HttpRequest) -> StreamingHttpResponse:
    form = StreamForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Bad stream parameters.")
    page_time = parse_since(form.cleaned_data["since"])
    since = parse_since(request.headers.get("Last-Event-ID")) or page_time
    discover = None
    if form.cleaned_data["new"]:
        # The list page's own filters pick which new jobs it shows (bad ones are left out, as
        # on the page).
        filters = filter_values(JobFilterForm(request.GET))

        def discover() -> QuerySet[RenderJob]:
            return _filtered_jobs(filters)

    stream = JobStream(
        public_ids=form.job_ids(),
        since=since,
        render=_renderer(request, form.cleaned_data["view"] or "row"),
        discover=discover,
        created_after=page_time,
    )
    return stream.response(request)
