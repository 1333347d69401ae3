"""The friendly error pages also in development, and refusals (``ApplicationError``) on pages."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from viggle_web.core.errors import ApplicationError


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


class ApplicationErrorMiddleware:
    """The one mapping of an application error for pages (``core.errors``; the API has its own,
    ``gateway.errors.api_error``). A refusal no view turned into a form error becomes a message
    on the page the member came from (same site only), or on the home page; an htmx request
    gets the sentence as plain text with the error's status, for the fragment to show."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError):
            return None
        if getattr(request, "htmx", False):
            return HttpResponse(
                exception.message,
                status=exception.status,
                content_type="text/plain; charset=utf-8",
            )
        messages.error(request, exception.message)
        back = request.headers.get("Referer", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = "/"
        return HttpResponseRedirect(back)
