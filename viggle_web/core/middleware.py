"""The friendly error pages also in development."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class FriendlyNotFoundMiddleware:
    """With DEBUG, Django answers a 404 with its technical page (the URL patterns, settings
    hints). People trying the studio in development should meet the same page as in production;
    developers can still read the reason in the log. JSON answers (the API) are left alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "friendly", False)
        ):
            from viggle_web.core.views import error_404

            return error_404(request)
        return response
