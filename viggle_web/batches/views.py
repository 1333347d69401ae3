"""Batch pages: the form (characters x motions, shared options, count, total and what is left),
the batch's live grid, cancel all, retry failed and the ZIP of its results. Thin: forms parse,
services and selectors do the work. Batches are shared with the team for reading like renders;
changing one takes its owner or an admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
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
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from viggle_web.assets.models import Asset
from viggle_web.batches import collections, results, selectors, services, shares
from viggle_web.batches.forms import (
    BatchFilterForm,
    BatchForm,
    CollectionAddForm,
    CollectionForm,
    MonthForm,
    RetryForm,
    ShareForm,
    StreamForm,
)
from viggle_web.batches.models import Batch, Collection, Result, ShareLink
from viggle_web.batches.zipstream import ZipMember, zip_response
from viggle_web.core.files import serve_file
from viggle_web.core.filters import filter_values, render_filtered
from viggle_web.core.formviews import form_view
from viggle_web.renders.models import RenderJob
from viggle_web.renders.stream import JobStream, parse_since
from viggle_web.usage.selectors import budget_status, month_window
from viggle_web.usage.services import BudgetExceeded

PICKER_LIMIT = 300
CELL = "batches/detail.html#cell"


def _get_batch_for_user(request: HttpRequest, public_id: str, *, write: bool = False) -> Batch:
    batch = get_object_or_404(Batch.objects.select_related("owner"), public_id=public_id)
    if write and not request.user.may_manage(batch.owner_id):
        raise PermissionDenied("Only the member who started this batch or an admin can do that.")
    return batch


def _chosen(form: BatchForm, name: str) -> list[Asset]:
    raw = form.data.getlist(name) if form.is_bound else form.initial.get(name, [])
    ids = [int(value) for value in raw if str(value).isdigit()][: services.batch_max()]
    kind = Asset.Kind.IMAGE if name == "characters" else Asset.Kind.VIDEO
    return list(Asset.objects.filter(pk__in=ids, kind=kind, archived_at__isnull=True))


def _form_context(request: HttpRequest, form: BatchForm) -> dict:
    characters, motions = _chosen(form, "characters"), _chosen(form, "motions")
    cast = form.data.get("cast", "") if form.is_bound else ""
    template = form.templates.get(int(cast.split(":")[0])) if cast[:1].isdigit() else None
    if template is not None and not motions:
        motions = [template]  # one template x several mappings: one render per character
    fast = (form.data.get("fast") in ("on", "true", "1")) if form.is_bound else False
    estimate = services.batch_estimate(characters=characters, motions=motions, fast=fast)
    budget = budget_status(user=request.user)
    count = len(characters) * len(motions)
    blocked = ""
    if count > services.batch_max():
        blocked = f"A batch holds at most {services.batch_max()} renders."
    elif estimate is not None and budget.remaining is not None and estimate > budget.remaining:
        blocked = (
            f"This batch needs {estimate} credits and {budget.remaining} are left this month: "
            "choose fewer renders or ask an admin to raise the budget."
        )

    def options(kind: str) -> list[Asset]:
        return list(
            Asset.objects.filter(kind=kind, archived_at__isnull=True).order_by("-created_at")[
                :PICKER_LIMIT
            ]
        )

    return {
        "form": form,
        "character_options": options(Asset.Kind.IMAGE),
        "motion_options": options(Asset.Kind.VIDEO),
        "chosen_characters": {a.pk for a in characters},
        "chosen_motions": {a.pk for a in motions},
        "count": count,
        "estimate": estimate if count else None,
        "budget": budget,
        "start_blocked": blocked,
    }


def _batch_submit(request: HttpRequest, form: BatchForm) -> HttpResponse:
    data = form.cleaned_data
    cast = form.chosen_cast()
    batch = services.batch_submit(
        owner=request.user,
        idempotency_key=data["idempotency_key"],
        characters=list(data["characters"]),
        motions=list(data["motions"]),
        options=services.BatchOptions(**form.options()),
        cast=services.TemplateCast(*cast) if cast else None,
    )
    messages.success(request, "Batch started. This page updates by itself.")
    return redirect("batches:detail", public_id=batch.public_id)


@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest) -> HttpResponse:
    return form_view(
        request,
        BatchForm,
        template="batches/new.html",
        context=_form_context,
        initial=lambda request: {
            "characters": request.GET.getlist("character"),
            "motions": request.GET.getlist("motion"),
        },
        submit=_batch_submit,
    )


@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    filters = BatchFilterForm(request.GET)
    data = filter_values(filters)
    batches = selectors.batch_list(collection=data["collection"])
    page = Paginator(batches, 25).get_page(data["page"] or 1)
    return render_filtered(request, "batches/list.html", filters, {"page": page})


@require_GET
def batch_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = _get_batch_for_user(request, public_id)
    items = selectors.batch_items(batch)
    summary = selectors.batch_summary(items)
    return render(
        request,
        "batches/detail.html",
        {
            "batch": batch,
            "items": items,
            "summary": summary,
            "live": any(item.job.is_active for item in items),
            "since": timezone.now().isoformat(),
            "retry_form": RetryForm(initial={"idempotency_key": services.new_key()}),
            "can_manage": request.user.may_manage(batch.owner_id),
        },
    )


@require_GET
def batch_stream(request: HttpRequest, public_id: str) -> StreamingHttpResponse:
    """The grid's live cells: the batch's renders that are still active when the page asks."""
    batch = _get_batch_for_user(request, public_id)
    form = StreamForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Bad stream parameters.")
    positions = dict(
        RenderJob.objects.filter(batch_item__batch=batch).values_list(
            "public_id", "batch_item__position"
        )
    )

    def render_cell(job: RenderJob) -> str:
        context = {"job": job, "position": positions.get(job.public_id, 0) + 1, "streaming": True}
        return render_to_string(CELL, context, request=request)

    stream = JobStream(
        public_ids=list(positions),
        since=parse_since(request.headers.get("Last-Event-ID"))
        or parse_since(form.cleaned_data["since"]),
        render=render_cell,
    )
    return stream.response(request)


def _done(request: HttpRequest, batch: Batch, message: str, *, error: bool = False) -> HttpResponse:
    (messages.error if error else messages.success)(request, message)
    return redirect("batches:detail", public_id=batch.public_id)


@require_POST
def batch_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = _get_batch_for_user(request, public_id, write=True)
    count = services.batch_cancel_all(batch=batch, actor=request.user)
    return _done(request, batch, f"{count} render{'s' if count != 1 else ''} cancelled.")


@require_POST
def batch_retry(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = _get_batch_for_user(request, public_id, write=True)
    form = RetryForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("The form is damaged; reload the page.")
    try:
        count = services.batch_retry_failed(
            batch=batch, actor=request.user, idempotency_key=form.cleaned_data["idempotency_key"]
        )
    except BudgetExceeded as exc:
        return _done(request, batch, exc.message, error=True)
    except ValidationError as exc:
        return _done(request, batch, " ".join(exc.messages), error=True)
    return _done(request, batch, f"{count} failed render{'s' if count != 1 else ''} started again.")


@require_POST
def result_approve(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_object_or_404(Asset, pk=pk)
    try:
        approved = results.result_approve_toggle(asset=asset, actor=request.user)
    except results.ResultRefused as exc:
        raise PermissionDenied(exc.message)
    messages.success(request, "Approved." if approved else "Approval withdrawn.")
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("gallery:detail", asset.pk)


def _share(
    request: HttpRequest, back: str, *, result: Result | None, collection: Collection | None
) -> HttpResponse:
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("days", ["Choose 1 to 90 days."])))
        return redirect(back)
    try:
        link = shares.share_create(
            actor=request.user, result=result, collection=collection, days=form.cleaned_data["days"]
        )
    except shares.ShareRefused as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, "Share link made: copy it from the list below.")
    return redirect(f"{reverse('batches:shares')}#share-{link.pk}")


@require_POST
def share_create(request: HttpRequest, pk: int) -> HttpResponse:
    result = get_object_or_404(Result.objects.select_related("job"), asset_id=pk)
    if not request.user.may_manage(result.job.owner_id):
        raise PermissionDenied("Only the member who made this render or an admin can share it.")
    return _share(request, reverse("gallery:detail", args=[pk]), result=result, collection=None)


@require_POST
def collection_share(request: HttpRequest, pk: int) -> HttpResponse:
    collection = get_object_or_404(Collection, pk=pk)
    if not request.user.may_manage(collection.created_by_id):
        raise PermissionDenied("Only the member who made this collection or an admin can share it.")
    back = reverse("batches:collection", args=[pk])
    return _share(request, back, result=None, collection=collection)


@require_GET
def share_list(request: HttpRequest) -> HttpResponse:
    links = list(shares.shares_visible(user=request.user)[:200])
    rows = [
        {
            "link": link,
            "url": request.build_absolute_uri(
                reverse("batches:shared", args=[shares.share_token(link)])
            ),
        }
        for link in links
    ]
    return render(request, "batches/shares.html", {"rows": rows, "now": timezone.now()})


def _creator_action(
    request: HttpRequest, action: Callable[[], object], *, done: str, to: str
) -> HttpResponse:
    """A creator-or-admin action (revoke a link, delete a collection): refused is a 403 page."""
    try:
        action()
    except (shares.ShareRefused, collections.CollectionRefused) as exc:
        raise PermissionDenied(exc.message)
    messages.success(request, done)
    return redirect(to)


@require_POST
def share_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    link = get_object_or_404(ShareLink, pk=pk)
    return _creator_action(
        request,
        lambda: shares.share_revoke(link=link, actor=request.user),
        done="Link revoked: it now says the video is no longer shared.",
        to="batches:shares",
    )


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "batches/shared_gone.html", status=410)


@login_not_required
@require_GET
def shared_page(request: HttpRequest, token: str) -> HttpResponse:
    """The public page of a share link: a player and a download, nothing else."""
    shared = shares.share_open(token=token)
    if shared is None:
        return _gone(request)
    return render(
        request,
        "batches/shared.html",
        {"token": token, "title": shared.title, "items": range(len(shared.files))},
    )


@login_not_required
@require_GET
def shared_video(request: HttpRequest, token: str, item: int = 0) -> HttpResponse:
    shared = shares.share_open(token=token, audit=False)
    if shared is None:
        return _gone(request)
    if item >= len(shared.files):
        raise Http404("No such video.")
    file = shared.files[item]
    return serve_file(
        request,
        name=file.name,
        storage=file.storage,
        content_type="video/mp4",
        filename=f"shared-video-{item + 1}.mp4" if len(shared.files) > 1 else "shared-video.mp4",
        attachment=request.GET.get("download") == "1",
        cache_control="private, no-store",
    )


# --- collections ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def collection_list(request: HttpRequest) -> HttpResponse:
    form = CollectionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            made = collections.collection_create(name=form.cleaned_data["name"], actor=request.user)
        except collections.CollectionRefused as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Collection “{made.name}” made: add assets to it.")
            return redirect("batches:collection", pk=made.pk)
    month = MonthForm(request.GET)
    chosen = month.cleaned_data.get("month") if month.is_valid() else None
    start, end = month_window(
        timezone.make_aware(datetime.combine(chosen, time(12))) if chosen else None
    )
    return render(
        request,
        "batches/collections.html",
        {
            "form": form,
            "usage": collections.collection_usage(start=start, end=end),
            "month_start": start,
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def collection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    collection = get_object_or_404(Collection, pk=pk)
    form = CollectionAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        added = collections.collection_add(
            collection=collection, assets=list(form.cleaned_data["assets"])
        )
        messages.success(request, f"{added} added to “{collection.name}”.")
        return redirect("batches:collection", pk=collection.pk)
    members = collection.assets.filter(archived_at__isnull=True).order_by("name")
    others = Asset.objects.filter(archived_at__isnull=True).exclude(collections=collection)
    return render(
        request,
        "batches/collection.html",
        {
            "collection": collection,
            "members": members,
            "others": others.order_by("-created_at")[:PICKER_LIMIT],
            "form": form,
            "gallery_query": f"show={collections.PREFIX}{collection.pk}",
            "can_delete": request.user.may_manage(collection.created_by_id),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def collection_remove(request: HttpRequest, pk: int, asset_pk: int) -> HttpResponse:
    collection = get_object_or_404(Collection, pk=pk)
    asset = get_object_or_404(Asset, pk=asset_pk)
    collections.collection_remove(collection=collection, asset=asset)
    messages.success(request, f"“{asset.name}” taken out of “{collection.name}”.")
    return redirect("batches:collection", pk=collection.pk)


@require_POST
def collection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    collection = get_object_or_404(Collection, pk=pk)
    return _creator_action(
        request,
        lambda: collections.collection_delete(collection=collection, actor=request.user),
        done="Collection deleted; its assets stay in the gallery.",
        to="batches:collections",
    )


@require_GET
def batch_zip(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = _get_batch_for_user(request, public_id)
    entries = selectors.batch_zip_entries(batch)
    if not entries:
        messages.error(request, "No render of this batch has finished yet.")
        return redirect(reverse("batches:detail", args=[batch.public_id]))
    members = [
        ZipMember(name=e.name, storage=e.job.output.storage, path=e.job.output.name)
        for e in entries
    ]
    return zip_response(request, members, f"batch-{batch.public_id}.zip")
