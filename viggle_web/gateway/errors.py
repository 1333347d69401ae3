"""Errors of the Viggle-compatible API, in Viggle's codes and body shape:
``{"detail": {"error_code": ..., "message": ..., "action": ...}}`` with the documented HTTP
status (docs: shared/docs/viggle-api.md, "Error codes")."""

from __future__ import annotations

from django.http import JsonResponse

from viggle_web.core.errors import ApplicationError, BudgetExceeded, Forbidden, NotFound
from viggle_web.viggle.errors import FAST_MODE_FULL, ViggleError

MISSING_KEY = "CS-UORC01-006"
BAD_KEY = "CS-UORC01-007"
NO_CREDITS = "CS-UORC01-008"
FAST_FULL = FAST_MODE_FULL
VALIDATION = "CS-UORC01-002"
RENDER_FAILED = "CS-UORC01-009"
NEED_IMAGE = "CS-ORIV-001"
NEED_VIDEO = "CS-ORIV-002"
VIDEO_FORMAT = "CS-ORIV-003"
VIDEO_TOO_LONG = "CS-ORIV-004"
FILE_TOO_LARGE = "CS-ORIV-005"
TOO_MANY_PIXELS = "CS-ORIV-006"
VIDEO_UNREADABLE = "CS-ORIV-007"
NO_CHARACTER = "CS-ORIV-008"
NO_SCENE = "CS-ORIV-009"
SCENE_NOT_READY = "CS-ORIV-010"
BAD_BACKGROUND = "CS-ORIV-011"
BAD_MAPPING = "CS-ORIV-012"
# Codes of our own, for answers Viggle's table has no code for (same body shape). A script
# written for Viggle keeps working on the status; the code tells it the refusal is ours.
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
RATE_LIMITED = "RATE_LIMITED"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
UPSTREAM = "UPSTREAM_UNAVAILABLE"

ACTIONS: dict[str, str] = {
    MISSING_KEY: "Send Authorization: Bearer <your personal token> (Viggle Studio, API tokens)",
    BAD_KEY: "Check your token: it may have been revoked; create a new one in Viggle Studio",
    NO_CREDITS: "The organisation's Viggle account is out of credits: ask an admin to top it up",
    BUDGET_EXCEEDED: "Your monthly budget is used up: ask an admin or wait for the next month",
    FAST_FULL: "Retry with fast=false or wait",
    NOT_FOUND: "Check the id",
    FORBIDDEN: "Only its owner or an admin can do that",
    RATE_LIMITED: "Wait for Retry-After seconds, then try again",
    METHOD_NOT_ALLOWED: "Use one of the methods in the Allow header",
    UPSTREAM: "Try again in a moment",
}
DEFAULT_ACTION = "Check your request parameters"

# Viggle's documented codes (shared/docs/viggle-api.md, "Error codes") and their HTTP status:
# an upstream refusal with one of these reaches the script as Viggle gave it.
VIGGLE_STATUS: dict[str, int] = {
    MISSING_KEY: 401,
    BAD_KEY: 401,
    NO_CREDITS: 402,
    FAST_FULL: 400,
    VALIDATION: 400,
    **{f"CS-ORIV-{n:03d}": 400 for n in range(1, 13)},
}

# Every code this API can answer with, and its HTTP status (for the OpenAPI document and tests).
STATUS_OF: dict[str, int] = {
    **VIGGLE_STATUS,
    BUDGET_EXCEEDED: 402,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    RATE_LIMITED: 429,
    UPSTREAM: 502,
}


class ApiError(ApplicationError):
    """An answer other than success, in the API's codes. ``status`` defaults to the code's
    documented status."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        action: str | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status or STATUS_OF.get(code, 400))
        self.headers = headers or {}
        self.action = action


def api_error(exc: ApplicationError) -> ApiError:
    """The one mapping of an application error to the API's answer (``api_endpoint`` applies
    it): over budget is 402 ``BUDGET_EXCEEDED``, not found and forbidden keep their codes, a
    refusal that carries one of Viggle's codes (an upload's ``CS-ORIV-…``) answers with it, any
    other refusal is Viggle's validation error."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, BudgetExceeded):
        return ApiError(BUDGET_EXCEEDED, exc.message)
    if isinstance(exc, NotFound):
        return ApiError(NOT_FOUND, exc.message)
    if isinstance(exc, Forbidden):
        return ApiError(FORBIDDEN, exc.message)
    if exc.code in VIGGLE_STATUS:
        return ApiError(exc.code, exc.message)
    return ApiError(VALIDATION, exc.message)


def error_body(code: str, message: str, action: str | None = None) -> dict[str, dict[str, str]]:
    return {
        "detail": {
            "error_code": code,
            "message": message,
            "action": action or ACTIONS.get(code, DEFAULT_ACTION),
        }
    }


def error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(
        error_body(error.code, error.message, error.action), status=error.status
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


# What the script should do about an upstream refusal that is the organisation's, not its own.
UPSTREAM_ACTIONS: dict[str, str] = {
    MISSING_KEY: "The server's Viggle key is not set: ask an admin of Viggle Studio",
    BAD_KEY: "The server's Viggle key was refused: ask an admin of Viggle Studio to replace it",
    NO_CREDITS: "The organisation's Viggle account is out of credits: ask an admin to top it up",
}


def upstream_error(exc: ViggleError) -> ApiError:
    """A Viggle refusal passed on as Viggle gave it, so a script takes the branch it would take
    against Viggle: every documented code keeps its code and status (402 for the account's
    credits, 400 for fast capacity and input errors, 401 when the server's key is refused).
    An upstream 429 stays a 429 with its Retry-After. Only an answer that is no refusal (Viggle
    unreachable, a 5xx, an unreadable body) is an outage: 502 UPSTREAM_UNAVAILABLE."""
    code = exc.code or ""
    if code in VIGGLE_STATUS:
        status = exc.status if exc.status and 400 <= exc.status < 500 else VIGGLE_STATUS[code]
        return ApiError(code, exc.human_message, status=status, action=UPSTREAM_ACTIONS.get(code))
    if exc.status == 429:
        headers = {"Retry-After": str(max(1, round(exc.retry_after or 1)))}
        return ApiError(RATE_LIMITED, "Viggle is rate limiting requests", headers=headers)
    return ApiError(UPSTREAM, exc.human_message)
