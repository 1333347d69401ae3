"""The Viggle-compatible HTTP API (mounted at /api/): thin views that parse a request, call a
gateway service and shape its answer. Auth is the member's bearer token (no session, no CSRF);
the status endpoint, the OpenAPI document and signed downloads need none, by design.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from viggle_web.accounts.models import User
from viggle_web.core.clientip import client_ip
from viggle_web.core.errors import ApplicationError
from viggle_web.core.files import serve_file
from viggle_web.core.uploads import accepts_uploads, limit_uploads
from viggle_web.gateway import errors, payloads, services
from viggle_web.gateway.auth import authenticate
from viggle_web.gateway.errors import ApiError, error_response
from viggle_web.gateway.models import ApiObject
from viggle_web.gateway.openapi import openapi_document
from viggle_web.gateway.ratelimit import ip_limit, rate_take, token_limit

ApiView = Callable[..., HttpResponse]


def _client_address(request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def _rate(key: str, limit: int) -> None:
    decision = rate_take(key=key, limit=limit)
    if not decision.allowed:
        raise ApiError(
            errors.RATE_LIMITED,
            f"Rate limit exceeded: at most {decision.limit} requests per minute",
            headers={"Retry-After": str(decision.retry_after)},
        )


def api_endpoint(
    *, methods: tuple[str, ...], public: bool | Callable[[HttpRequest], bool] = False
) -> Callable[[ApiView], ApiView]:
    """Token auth (unless ``public``), method check, rate limit (per member; per client address
    on public endpoints), streamed and capped uploads, and Viggle-shaped errors for every
    refusal, including malformed bodies (never a 500 for bad input)."""

    def decorate(view: ApiView) -> ApiView:
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.upload_limiter = limit_uploads(  # type: ignore[attr-defined]
                request, limit=settings.MAX_UPLOAD_BYTES
            )
            try:
                # As Viggle does: without a valid key a token path answers 401 whatever the
                # method, so a script learns about its key before anything else.
                is_public = public(request) if callable(public) else public
                token = None if is_public else authenticate(request)
                if request.method not in methods:
                    raise ApiError(
                        errors.METHOD_NOT_ALLOWED,
                        f"Method {request.method} not allowed",
                        headers={"Allow": ", ".join(methods)},
                    )
                if token is None:
                    _rate(f"ip:{_client_address(request)}", ip_limit())
                    return view(request, None, *args, **kwargs)
                # Per member: more tokens do not buy a member more requests.
                _rate(f"member:{token.user_id}", token_limit())
                return view(request, token.user, *args, **kwargs)
            except ApplicationError as exc:
                # The one mapping of a refusal to the API's answer (Viggle's body and status).
                return error_response(errors.api_error(exc))
            except (MultiPartParserError, SuspiciousOperation, UnreadablePostError) as exc:
                return error_response(
                    ApiError(errors.VALIDATION, f"The request body could not be read: {exc}")
                )

        return wrapper

    return decorate


def _absolute(request: HttpRequest) -> payloads.Absolute:
    return request.build_absolute_uri


def _field(request: HttpRequest, name: str) -> str | None:
    value = request.POST.get(name)
    return value.strip() or None if value is not None else None


def _webhook(request: HttpRequest) -> services.WebhookInput | None:
    """webhook_url and webhook_events (repeated, or comma-separated) of a form body."""
    return services.webhook_parse(
        _field(request, "webhook_url"), request.POST.getlist("webhook_events")
    )


def _media(request: HttpRequest, field: str, url_field: str) -> services.MediaInput:
    return services.MediaInput(
        field=field,
        url_field=url_field,
        upload=request.FILES.get(field),
        url=_field(request, url_field),
        too_large=field in request.upload_limiter.too_big_fields,  # type: ignore[attr-defined]
    )


def _preprocess_input(request: HttpRequest, media: str) -> dict[str, Any]:
    """What every preprocess call sends: a name, its media (``image``/``video`` or its
    ``*_url``) and the webhook fields."""
    return {
        "name": _field(request, "name"),
        media: _media(request, media, f"{media}_url"),
        "webhook": _webhook(request),
    }


class PageForm(forms.Form):
    limit = forms.IntegerField(required=False, min_value=1, max_value=100)
    offset = forms.IntegerField(required=False, min_value=0, max_value=10_000_000)

    def page(self) -> tuple[int, int]:
        if not self.is_valid():
            raise ApiError(errors.VALIDATION, "limit must be 1-100 and offset 0-10000000")
        return self.cleaned_data["limit"] or 50, self.cleaned_data["offset"] or 0


# --- renders ------------------------------------------------------------------------------------


@accepts_uploads
@api_endpoint(methods=("POST",))
def render_create(request: HttpRequest, user: User) -> HttpResponse:
    data = services.RenderInput(
        ref_image=_media(request, "ref_image", "ref_image_url"),
        driving_video=_media(request, "driving_video", "driving_video_url"),
        character_id=_field(request, "character_id"),
        scene_id=_field(request, "scene_id"),
        character_mapping=_field(request, "character_mapping") or _field(request, "characters"),
        model=_field(request, "model"),
        background_mode=_field(request, "background_mode"),
        bg_color=_field(request, "bg_color"),
        fast=_field(request, "fast"),
        idempotency_key=request.headers.get("Idempotency-Key"),
        webhook=_webhook(request),
    )
    job = services.render_create(user=user, data=data)
    return JsonResponse(payloads.render_created(job))


@api_endpoint(methods=("GET", "HEAD", "DELETE"), public=lambda r: r.method in ("GET", "HEAD"))
def render_detail(request: HttpRequest, user: User | None, job_id: str) -> HttpResponse:
    if request.method == "DELETE":
        assert user is not None
        job = services.render_cancel(user=user, public_id=job_id)
        return JsonResponse(
            {
                "job_id": job.public_id,
                "status": "cancelled",
                "success": True,
                "credits_refunded": job.estimate_credits,
            }
        )
    job = services.render_get(public_id=job_id)
    return JsonResponse(payloads.render_status(job, _absolute(request)))


# --- characters and scenes ----------------------------------------------------------------------


def _object_list(request: HttpRequest, user: User, kind: str) -> tuple[list[ApiObject], int]:
    limit, offset = PageForm(request.GET).page()
    rows = services.objects_visible(user=user, kind=kind)
    return list(rows[offset : offset + limit]), rows.count()


def _object_detail(
    request: HttpRequest,
    user: User,
    kind: str,
    public_id: str,
    payload: Callable[[ApiObject], dict[str, Any]],
) -> HttpResponse:
    """GET (the object's payload) or DELETE of a character or scene."""
    if request.method == "DELETE":
        services.object_delete(user=user, kind=kind, public_id=public_id)
        return JsonResponse({"success": True})
    return JsonResponse(payload(services.object_get(user=user, kind=kind, public_id=public_id)))


@api_endpoint(methods=("GET",))
def character_list(request: HttpRequest, user: User) -> HttpResponse:
    rows, total = _object_list(request, user, ApiObject.Kind.CHARACTER)
    items = [payloads.character(obj, _absolute(request)) for obj in rows]
    return JsonResponse({"characters": items, "total": total})


@accepts_uploads
@api_endpoint(methods=("POST",))
def character_preprocess(request: HttpRequest, user: User) -> HttpResponse:
    obj = services.character_create(user=user, **_preprocess_input(request, "image"))
    return JsonResponse(payloads.character_created(obj))


@api_endpoint(methods=("GET", "DELETE"))
def character_detail(request: HttpRequest, user: User, character_id: str) -> HttpResponse:
    return _object_detail(
        request,
        user,
        ApiObject.Kind.CHARACTER,
        character_id,
        lambda obj: payloads.character(obj, _absolute(request)),
    )


@api_endpoint(methods=("GET",))
def scene_list(request: HttpRequest, user: User) -> HttpResponse:
    rows, total = _object_list(request, user, ApiObject.Kind.SCENE)
    return JsonResponse({"scenes": [payloads.scene(obj) for obj in rows], "total": total})


@accepts_uploads
@api_endpoint(methods=("POST",))
def scene_preprocess(request: HttpRequest, user: User) -> HttpResponse:
    obj = services.scene_create(
        user=user,
        **_preprocess_input(request, "video"),
        model=_field(request, "model"),
        background_mode=_field(request, "background_mode"),
    )
    return JsonResponse(payloads.scene_created(obj))


@api_endpoint(methods=("POST",))
def scene_import(request: HttpRequest, user: User) -> HttpResponse:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ApiError(errors.VALIDATION, "Body must be JSON")
    obj = services.scene_import(user=user, body=body)
    return JsonResponse(payloads.template_imported(obj))


@api_endpoint(methods=("GET", "DELETE"))
def scene_detail(request: HttpRequest, user: User, scene_id: str) -> HttpResponse:
    return _object_detail(request, user, ApiObject.Kind.SCENE, scene_id, payloads.scene)


# --- account, files, description ----------------------------------------------------------------


@api_endpoint(methods=("GET",))
def credits(request: HttpRequest, user: User) -> HttpResponse:
    return JsonResponse(services.credits_summary(user=user))


@api_endpoint(methods=("GET", "HEAD"), public=True)
def signed_download(request: HttpRequest, user: None, token: str) -> HttpResponse:
    download = services.download_open(token=token)
    try:
        return serve_file(
            request,
            name=download.file.name,
            storage=download.file.storage,
            content_type=download.content_type,
            filename=download.filename,
            cache_control="private, no-store",
        )
    except Http404:
        raise ApiError(errors.NOT_FOUND, "No such file (it may have been deleted)")


@api_endpoint(methods=("GET",), public=True)
def openapi(request: HttpRequest, user: None) -> HttpResponse:
    return JsonResponse(openapi_document(server=request.build_absolute_uri("/").rstrip("/")))
