from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Public liveness probe for load balancers: says only whether the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        # Scripts get Viggle's error body there, also for a path that matches no route.
        detail = {"error_code": "NOT_FOUND", "message": "Not found", "action": "Check the URL"}
        return JsonResponse({"detail": detail}, status=404)
    response = render(request, "errors/404.html", status=404)
    response.friendly = True  # type: ignore[attr-defined]
    return response


def error_500(request: HttpRequest) -> HttpResponse:
    # No context processors that touch the database: the failure may be the database.
    from django.template import loader

    return HttpResponse(loader.get_template("errors/500.html").render(), status=500)
