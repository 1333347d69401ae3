"""Pages about the API for logged-in members: their personal tokens (create, name, revoke),
the admins' list of every member's live tokens, and how to use a token."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from viggle_web.accounts.permissions import admin_required
from viggle_web.gateway import services
from viggle_web.gateway.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, e.g. “batch script on my laptop”.",
    )


@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    created = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.token_create(user=request.user, name=form.cleaned_data["name"])
        except services.TokenLimitReached as exc:
            form.add_error(None, str(exc))
        else:
            form = TokenForm()
    response = render(
        request,
        "gateway/tokens.html",
        {
            "form": form,
            "created": created,
            "tokens": services.tokens_of(user=request.user),
            "base_url": request.build_absolute_uri("/").rstrip("/"),
        },
    )
    if form.is_bound and form.errors:
        response.status_code = 400
    if created is not None:
        # The raw token is on this page only: keep it out of every cache.
        response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id)
    services.token_revoke(token=token, actor=request.user)  # PermissionDenied -> 403
    messages.success(request, f"The token “{token.name}” was revoked; it no longer works.")
    if request.POST.get("next") == "admin" and request.user.is_admin:
        return redirect("tokens:admin")
    return redirect("tokens:list")


@require_GET
@admin_required
def token_admin(request: HttpRequest) -> HttpResponse:
    return render(request, "gateway/tokens_admin.html", {"tokens": services.tokens_all_active()})


@require_GET
def api_help(request: HttpRequest) -> HttpResponse:
    base_url = request.build_absolute_uri("/").rstrip("/")
    return render(
        request,
        "gateway/api_help.html",
        {
            "base_url": base_url,
            "openapi_url": request.build_absolute_uri(reverse("gateway:openapi")),
            "example": EXAMPLE.replace("__BASE_URL__", base_url),
        },
    )


# The docs' quick-start, unchanged but for BASE (viggle-api.md, "The documented example client").
EXAMPLE = """import time
import requests

BASE = "__BASE_URL__"
API_KEY = "vs_..."  # your personal token from "API tokens"

headers = {"Authorization": f"Bearer {API_KEY}"}
with open("character.png", "rb") as ref_image, open("dance.mp4", "rb") as driving_video:
    response = requests.post(
        f"{BASE}/api/render",
        headers=headers,
        files={"ref_image": ref_image, "driving_video": driving_video},
    )
response.raise_for_status()
job_id = response.json()["job_id"]

while True:
    status = requests.get(f"{BASE}/api/render/{job_id}").json()
    if status["status"] == "complete":
        break
    if status["status"] == "failed":
        raise RuntimeError(status["error_message"])
    time.sleep(3)

video = requests.get(status["cdn_url"]).content
with open("output.mp4", "wb") as fh:
    fh.write(video)
"""
