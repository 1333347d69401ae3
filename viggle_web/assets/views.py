"""Gallery views: thin. Parse with a form, fetch through _get_asset_for_user, call a service or
selector, render the page or (for htmx) one of its partials. Login is enforced by middleware."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    UnreadablePostError,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from viggle_web.assets import resumable, selectors, services
from viggle_web.assets.forms import (
    GalleryFilterForm,
    PreprocessForm,
    RenameForm,
    TagsForm,
    TemplateImportForm,
)
from viggle_web.assets.models import Asset
from viggle_web.core.files import serve_file
from viggle_web.core.filters import filter_messages, filter_values
from viggle_web.core.uploads import (
    SizeLimitUploadHandler,
    stream_uploads,
    streams_body,
)
from viggle_web.usage.selectors import budget_status
from viggle_web.usage.services import BudgetExceeded

PAGE_SIZE = 24
GALLERY = "assets/gallery.html"
DETAIL = "assets/detail.html"


def _can_edit(request: HttpRequest, asset: Asset) -> bool:
    return services.asset_can_change(asset=asset, user=request.user)


def _get_asset_for_user(request: HttpRequest, pk: int, *, write: bool = False) -> Asset:
    """The one way views fetch an asset. Every member may see every asset (the gallery is
    shared); changing one is for its uploader and admins. 404 if missing, 403 if not allowed."""
    asset = get_object_or_404(selectors.assets_for_cards(user=request.user), pk=pk)
    if write and not _can_edit(request, asset):
        raise PermissionDenied(
            "Only the member who uploaded this asset, or an admin, may change it."
        )
    return asset


def _card(request: HttpRequest, asset: Asset, *, status: int = 200) -> HttpResponse:
    return render(request, f"{GALLERY}#card", {"asset": asset}, status=status)


def _after_action(request: HttpRequest, asset: Asset) -> HttpResponse:
    """htmx: the fresh card; otherwise back where the member came from (or the detail page)."""
    if request.htmx:
        return _card(request, _get_asset_for_user(request, asset.pk))
    target = request.POST.get("next", "")
    # Only a local path: anything else (a foreign host, a bare word) falls back to the page.
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return HttpResponseRedirect(target)
    return redirect("gallery:detail", asset.pk)


def _refuse(request: HttpRequest, asset: Asset, message: str) -> HttpResponse:
    if request.htmx:
        # Plain text: app.js shows it as a notice.
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    messages.error(request, message)
    return redirect("gallery:detail", asset.pk)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    filters = GalleryFilterForm(request.GET)
    data = filter_values(filters)
    assets = selectors.asset_list(
        user=request.user,
        q=data["q"] or "",
        kind=data["kind"] or "",
        uploader=data["uploader"],
        tag=data["tag"],
        favourites=data["favourites"],
        sort=data["sort"] or "newest",
        show=data["show"] or "",
    )
    page = Paginator(assets, PAGE_SIZE).get_page(data["page"] or 1)
    filtered = any(data[key] for key in ("q", "kind", "uploader", "tag", "favourites", "show"))
    context = {
        "page": page,
        "filters": filters,
        "filtered": filtered,
        "import_form": TemplateImportForm(),
        "import_cost": services.template_import_cost(),
        "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
        "filter_errors": filter_messages(filters),
    }
    if request.htmx:
        # htmx swaps only 2xx answers: the results without the refused filter, and the reason.
        return render(request, f"{GALLERY}#results", context)
    return render(request, GALLERY, context, status=400 if filters.errors else 200)


@streams_body
@csrf_exempt  # checked by _upload: the handler must be in place before the body is read
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    """One or more files. The page's script sends one file per request and gets JSON (the card
    or the reason); a plain form post (no JavaScript) gets messages and a redirect. The body is
    read as it arrives and each file written once, hashed on the way (core.uploads)."""
    handler = stream_uploads(request, limit=settings.MAX_UPLOAD_BYTES)
    try:
        return _upload(request, handler)
    except UnreadablePostError:  # the body was cut off (streambody.BodyIncomplete)
        handler.discard()
        return HttpResponse("The upload did not arrive in full.", status=400)


@csrf_protect
def _upload(request: HttpRequest, limiter: SizeLimitUploadHandler) -> HttpResponse:
    files = request.FILES.getlist("file")
    xhr = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    outcomes: list[dict] = [
        {"ok": False, "message": services.UploadRefused(name, _too_big()).message}
        for name in limiter.too_big_names
    ]
    if not files and not outcomes:
        if xhr:
            return JsonResponse({"ok": False, "message": "No file was sent."}, status=400)
        messages.error(request, "Choose one or more files to upload.")
        return redirect("gallery:index")
    for file in files:
        try:
            result = services.asset_create(user=request.user, upload=file)
        except services.UploadRefused as exc:
            outcomes.append({"ok": False, "message": exc.message})
            continue
        outcomes.append(_accepted(request, result))
    if xhr:
        if len(outcomes) == 1:
            outcome = outcomes[0]
            status = (201 if outcome["created"] else 200) if outcome["ok"] else 400
            return JsonResponse(outcome, status=status)
        return JsonResponse({"results": outcomes})
    for outcome in outcomes:
        (messages.success if outcome["ok"] else messages.error)(request, outcome["message"])
    return redirect("gallery:index")


def _accepted(request: HttpRequest, result: services.UploadResult) -> dict:
    """What the page's script gets for a stored (or found) upload: the card among others."""
    asset = _get_asset_for_user(request, result.asset.pk)
    return {
        "ok": True,
        "created": result.created,
        "message": result.message,
        "asset_id": asset.pk,
        "kind": asset.kind,
        "name": asset.name,
        "duration_seconds": asset.duration_seconds,
        "url": reverse("gallery:detail", args=[asset.pk]),
        "card": render_to_string(f"{GALLERY}#card", {"asset": asset}, request=request),
    }


# --- Resumable uploads (tus 1.0.0; the rules are in assets/resumable.py) -----------------------


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = resumable.TUS_VERSION
    response["Cache-Control"] = "no-store"
    return response


def _tus_refused(exc: resumable.ResumableRefused) -> HttpResponse:
    return _tus(HttpResponse(exc.message, status=exc.status, content_type="text/plain"))


@require_http_methods(["OPTIONS", "POST"])
def resumable_start(request: HttpRequest) -> HttpResponse:
    """OPTIONS: what this server supports. POST (creation): a new upload of Upload-Length
    bytes; answers 201 with its Location. CSRF-checked like every POST (X-CSRFToken)."""
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Tus-Version"] = resumable.TUS_VERSION
        response["Tus-Extension"] = "creation,termination,checksum"
        response["Tus-Max-Size"] = str(settings.MAX_UPLOAD_BYTES)
        response["Tus-Checksum-Algorithm"] = ",".join(resumable.CHECKSUM_ALGORITHMS)
        return _tus(response)
    version = request.headers.get("Tus-Resumable")
    if version != resumable.TUS_VERSION:
        # tus: 412 for a version we do not speak; no version at all is just a bad request.
        response = HttpResponse("Tus-Resumable 1.0.0 is needed.", status=412 if version else 400)
        response["Tus-Version"] = resumable.TUS_VERSION
        return _tus(response)
    try:
        upload = resumable.resumable_create(
            user=request.user,
            length_header=request.headers.get("Upload-Length", ""),
            metadata_header=request.headers.get("Upload-Metadata", ""),
        )
    except resumable.ResumableRefused as exc:
        return _tus_refused(exc)
    response = HttpResponse(status=201)
    response["Location"] = reverse("gallery:resumable", args=[upload.pk])
    return _tus(response)


@streams_body
@require_http_methods(["HEAD", "GET", "PATCH", "DELETE"])
def resumable_upload(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """HEAD: where the upload stands. PATCH: the next chunk (application/offset+octet-stream at
    Upload-Offset, optional Upload-Checksum), read as it arrives. DELETE: termination. GET: the
    outcome once complete, as the one-request upload answers. Only the uploader's own."""
    upload = resumable.resumable_for(user=request.user, upload_id=upload_id)
    if upload is None:
        return _tus(HttpResponse("No such upload.", status=404, content_type="text/plain"))
    if request.method == "DELETE":
        resumable.resumable_delete(upload=upload)
        return _tus(HttpResponse(status=204))
    if request.method == "PATCH":
        if request.content_type != "application/offset+octet-stream":
            return _tus(
                HttpResponse("Send the chunk as application/offset+octet-stream.", status=415)
            )
        declared = request.headers.get("Content-Length", "")
        try:
            result = resumable.resumable_append(
                upload=upload,
                offset_header=request.headers.get("Upload-Offset", ""),
                checksum_header=request.headers.get("Upload-Checksum", ""),
                content_length=int(declared) if declared.isdigit() else None,
                read=request.read,
                incomplete=UnreadablePostError,  # how request.read reports a cut-off body
            )
        except resumable.ResumableRefused as exc:
            return _tus_refused(exc)
        response = HttpResponse(status=204)
        response["Upload-Offset"] = str(result.offset)
        return _tus(response)
    if request.method == "GET":
        if upload.completed_at is None:
            outcome = {"ok": False, "complete": False, "offset": upload.offset}
            return _tus(JsonResponse(outcome))
        if upload.asset_id is None:
            return _tus(JsonResponse({"ok": False, "message": upload.refusal}, status=400))
        result = services.UploadResult(asset=upload.asset, created=upload.created)
        return _tus(JsonResponse(_accepted(request, result), status=200))
    response = HttpResponse(status=200)
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Length"] = str(upload.length)
    return _tus(response)


def _too_big() -> str:
    return f"it is larger than {settings.MAX_UPLOAD_BYTES / (1024 * 1024):.1f} MB, the limit"


@require_GET
def card(request: HttpRequest, pk: int) -> HttpResponse:
    return _card(request, _get_asset_for_user(request, pk))


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk)
    credits = selectors.asset_preparation_credits(asset=asset)
    if request.htmx:
        return render(request, f"{DETAIL}#resources", {"asset": asset, "credits": credits})
    return render(
        request,
        DETAIL,
        {
            "asset": asset,
            "credits": credits,
            "renders": selectors.asset_renders(asset=asset),
            "can_edit": _can_edit(request, asset),
            "rename_form": RenameForm(initial={"name": asset.name}),
            "tags_form": TagsForm(initial={"tags": ", ".join(t.name for t in asset.tags.all())}),
            "preprocess_form": PreprocessForm(),
        },
    )


@require_http_methods(["GET", "POST"])
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk, write=True)
    if request.method == "GET":
        if not request.htmx:
            return redirect("gallery:detail", asset.pk)
        form = RenameForm(initial={"name": asset.name})
        return render(request, f"{GALLERY}#rename_form", {"asset": asset, "form": form})
    form = RenameForm(request.POST)
    if not form.is_valid():
        return _refuse(request, asset, "A name of 1 to 200 characters is needed.")
    try:
        services.asset_rename(asset=asset, name=form.cleaned_data["name"])
    except services.AssetActionRefused as exc:
        return _refuse(request, asset, exc.message)
    return _after_action(request, asset)


@require_POST
def tags(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk, write=True)
    form = TagsForm(request.POST)
    if not form.is_valid():
        return _refuse(request, asset, "The tags are too long.")
    try:
        names = services.parse_tag_names(form.cleaned_data["tags"])
    except services.AssetActionRefused as exc:
        return _refuse(request, asset, exc.message)
    services.asset_tags_set(asset=asset, names=names)
    return _after_action(request, asset)


@require_POST
def favourite(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk)
    services.asset_favourite_toggle(asset=asset, user=request.user)
    return _after_action(request, asset)


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk, write=True)
    outcome = services.asset_delete(asset=asset, actor=request.user)
    if outcome == "archived":
        text = f"“{asset.name}” was used by a render, so it was archived (kept for that history)."
    else:
        text = f"“{asset.name}” was deleted."
    if request.htmx:
        # The card disappears (swapped with nothing); the notice explains what happened.
        response = HttpResponse("")
        response["HX-Trigger"] = json.dumps({"galleryNotice": text})
        return response
    messages.success(request, text)
    return redirect("gallery:index")


@require_POST
def preprocess(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk)
    form = PreprocessForm(request.POST)
    if not form.is_valid():
        return _refuse(request, asset, "Choose the V4 Preview or V3 Preview model.")
    try:
        services.resource_request(
            asset=asset, user=request.user, model=form.cleaned_data["model"] or ""
        )
    except BudgetExceeded as exc:
        return _refuse(request, asset, exc.message)
    except services.AssetActionRefused as exc:
        return _refuse(request, asset, exc.message)
    if not request.htmx:
        messages.success(request, f"Viggle is preparing “{asset.name}”.")
    return _after_action(request, asset)


def _import_context(request: HttpRequest, form: TemplateImportForm) -> dict:
    return {
        "form": form,
        "import_cost": services.template_import_cost(),
        "budget": budget_status(user=request.user),
    }


@require_http_methods(["GET", "POST"])
def template_import(request: HttpRequest) -> HttpResponse:
    """GET: the form, with what an import costs and what the member has left. POST: import;
    every refusal (bad link, budget, Viggle) is a message on the form, nothing booked."""
    from viggle_web.viggle.errors import ViggleError

    form = TemplateImportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            asset, created = services.asset_import_template(
                user=request.user,
                template_id=form.cleaned_data["template_id"],
                name=form.cleaned_data["name"],
            )
        except services.AssetActionRefused as exc:
            form.add_error("template_id", exc.message)
        except BudgetExceeded as exc:
            form.add_error(None, exc.message)
        except ViggleError as exc:
            form.add_error(None, f"Viggle refused the import: {exc.human_message}")
        else:
            if created:
                messages.success(
                    request,
                    f"Viggle is importing the template “{asset.name}”; this page shows it "
                    "when it is ready.",
                )
            else:
                messages.info(request, f"This template is in the gallery already: “{asset.name}”.")
            return redirect("gallery:detail", asset.pk)
    status = 400 if form.is_bound else 200
    return render(request, "assets/import.html", _import_context(request, form), status=status)


# --- Files: only through these views, after the login check ---------------------------------------


@require_GET
def media_file(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk)
    if not asset.file:
        raise Http404("This asset has no file.")
    return _serve(request, asset.file.name, asset.content_type, asset.original_filename)


@require_GET
def media_preview(request: HttpRequest, pk: int) -> HttpResponse:
    asset = _get_asset_for_user(request, pk)
    if not asset.preview:
        raise Http404("This asset has no preview.")
    return _serve(request, asset.preview.name, "image/jpeg", f"{asset.pk}.jpg")


def _serve(request: HttpRequest, name: str, content_type: str, filename: str) -> HttpResponse:
    """Kept for callers in other apps; the one file server is core.files.serve_file."""
    return serve_file(request, name=name, content_type=content_type, filename=filename)
