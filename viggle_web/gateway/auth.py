"""Bearer-token authentication for the API (no sessions, no cookies, no CSRF)."""

from __future__ import annotations

from django.http import HttpRequest

from viggle_web.gateway import errors
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.models import ApiToken
from viggle_web.gateway.services import token_authenticate


def bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate(request: HttpRequest) -> ApiToken:
    """The request's token, or ApiError 401 (missing: CS-UORC01-006; unknown, revoked or its
    member deactivated: CS-UORC01-007)."""
    raw = bearer(request)
    if raw is None:
        raise ApiError(
            errors.MISSING_KEY, "API key required. Use Authorization: Bearer <your token>"
        )
    token = token_authenticate(raw=raw)
    if token is None:
        raise ApiError(errors.BAD_KEY, "Invalid or expired API key")
    return token
