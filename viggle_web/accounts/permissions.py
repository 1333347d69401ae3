from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Admins only; anyone else logged in gets 403 (login itself is enforced by middleware)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if not request.user.is_admin:
            raise PermissionDenied("Only admins can open this page.")
        return view(request, *args, **kwargs)

    return wrapper
