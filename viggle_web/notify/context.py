"""Template context for every page: the browser-notification opt-in and unread notices."""

from __future__ import annotations

from django.http import HttpRequest

from viggle_web.notify.models import Notice, Preference


def notify(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "notify_browser": Preference.objects.filter(user=user, browser=True).exists(),
        "notify_unread": Notice.objects.filter(user=user, read_at__isnull=True).count(),
    }
