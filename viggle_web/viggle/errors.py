"""The one error type of the Viggle boundary, and plain-language messages for members.

A `ViggleError` says whether trying again can help (`retryable`), so callers never have to know
about HTTP or httpx. It never carries the request (whose headers hold the API key).
"""

from __future__ import annotations

from typing import Any

# Old code names (older doc pages) -> the current ones. Errors always carry the new name.
CODE_ALIASES: dict[str, str] = {
    "CS-ORAU-001": "CS-UORC01-006",
    "CS-ORAU-002": "CS-UORC01-007",
    "CS-ORCR-001": "CS-UORC01-008",
}

# Viggle's code for "fast mode has no capacity now": the same render at normal speed can go.
FAST_MODE_FULL = "CS-UORC01-001"

# Codes the client itself assigns (not from Viggle).
AMBIGUOUS = "ambiguous"
CONNECTION = "connection"
TIMEOUT = "timeout"
MALFORMED = "malformed_response"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"

HUMAN_MESSAGES: dict[str, str] = {
    "CS-UORC01-001": (
        "Fast mode has no capacity right now: render at normal speed or try again later."
    ),
    "CS-UORC01-002": "Viggle rejected the request as invalid: check the options and try again.",
    "CS-UORC01-006": "The Viggle API key is missing: an admin needs to configure it.",
    "CS-UORC01-007": "The Viggle API key is invalid or has expired: an admin needs to replace it.",
    "CS-UORC01-008": "The Viggle account has run out of credits: an admin needs to top it up.",
    "CS-UORC01-009": "Viggle could not render this video. Try another character or motion.",
    "CS-ORIV-001": "A character image is required.",
    "CS-ORIV-002": "A driving video (or a prepared scene) is required.",
    "CS-ORIV-003": "This video format is not supported: use MP4, MOV or WebM.",
    "CS-ORIV-004": "The video is longer than 5 minutes: trim it and try again.",
    "CS-ORIV-005": "The file is larger than 500 MB: compress or trim it and try again.",
    "CS-ORIV-006": "The video is larger than 4096x4096 pixels: scale it down and try again.",
    "CS-ORIV-007": "Viggle could not read this video: it may be damaged. Try re-exporting it.",
    "CS-ORIV-008": "Viggle does not know this character any more: prepare it again.",
    "CS-ORIV-009": "Viggle does not know this scene any more: prepare it again.",
    "CS-ORIV-010": "The scene is still being prepared: wait a moment and try again.",
    "CS-ORIV-011": "That background mode is not valid: choose original, solid or transparent.",
    "CS-ORIV-012": "The character assignment for the people in the scene is not valid.",
    AMBIGUOUS: (
        "The connection to Viggle broke after the request was sent: it may or may not have "
        "started. Check before trying again."
    ),
    CONNECTION: "Viggle could not be reached. Try again in a moment.",
    TIMEOUT: "Viggle took too long to answer. Try again in a moment.",
    MALFORMED: "Viggle sent an unreadable answer. Try again in a moment.",
    RATE_LIMITED: "Viggle is busy (rate limited). Try again in a moment.",
    SERVER_ERROR: "Viggle had an internal problem. Try again in a moment.",
}


def normalise_code(code: str | None) -> str | None:
    if not code:
        return None
    code = str(code).strip()
    return CODE_ALIASES.get(code, code)


def human_message(code: str | None, fallback: str) -> str:
    """A plain sentence for members about `code`, or `fallback` for an unknown code."""
    normalised = normalise_code(code)
    if normalised and normalised in HUMAN_MESSAGES:
        return HUMAN_MESSAGES[normalised]
    return fallback


class ViggleError(Exception):
    """A failed call to Viggle. `retryable` says whether the same call may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = normalise_code(code)
        self.retryable = retryable
        self.retry_after = retry_after

    @property
    def human_message(self) -> str:
        return human_message(self.code, self.message)

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return (
            f"ViggleError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, retryable={self.retryable!r}, "
            f"retry_after={self.retry_after!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (django-q2 stores task results), keeping the keyword-only attributes.
        return (
            _rebuild,
            (self.message, self.status, self.code, self.retryable, self.retry_after),
        )


def _rebuild(
    message: str,
    status: int | None,
    code: str | None,
    retryable: bool,
    retry_after: float | None,
) -> ViggleError:
    return ViggleError(
        message, status=status, code=code, retryable=retryable, retry_after=retry_after
    )


def parse_error_body(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from any of the three documented error-body shapes, or (None, None)."""
    if not isinstance(body, dict):
        return None, None
    detail = body.get("detail")
    if isinstance(detail, dict):
        code = detail.get("error_code") or detail.get("code")
        message = detail.get("message") or detail.get("error")
        return normalise_code(_str_or_none(code)), _str_or_none(message)
    if isinstance(detail, str):
        return normalise_code(_str_or_none(body.get("error_code"))), detail
    if isinstance(detail, list) and detail:
        # FastAPI's own request-validation shape: [{"loc": [...], "msg": "...", ...}]
        first = detail[0]
        msg = first.get("msg") if isinstance(first, dict) else str(first)
        return "CS-UORC01-002", _str_or_none(msg)
    code = body.get("error_code") or body.get("code")
    message = body.get("message") or body.get("error")
    return normalise_code(_str_or_none(code)), _str_or_none(message)


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)
