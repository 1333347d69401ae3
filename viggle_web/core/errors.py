"""One family of application errors (the HackSoft styleguide's ``ApplicationError``).

A service that refuses raises an ``ApplicationError`` (or a subclass) with a sentence meant for
the member, a machine ``code`` and an HTTP ``status``. It is mapped once for pages
(:func:`page_error`: a message or a form error, see ``core.views``) and once for the API (the
gateway's ``api_endpoint``: Viggle's error body with the code and the status). Messages pass
through ``core.messages.public_message`` when the error is made, so nothing internal leaves.
"""

from __future__ import annotations

from typing import Any, ClassVar

from viggle_web.core.messages import public_message


class ApplicationError(Exception):
    """A refusal a member or a script should see. ``code`` defaults to the class's own."""

    default_code: ClassVar[str] = "invalid"
    default_status: ClassVar[int] = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        message = public_message(message)
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status or self.default_status
        self.extra = extra or {}

    @property
    def messages(self) -> list[str]:
        """As Django's ValidationError has them (form code reads ``exc.messages``)."""
        return [self.message]


class Refused(ApplicationError):
    """Bad input or a move the rules do not allow: nothing was written (400)."""

    default_code = "refused"


class Forbidden(ApplicationError):
    default_code = "forbidden"
    default_status = 403


class NotFound(ApplicationError):
    default_code = "not_found"
    default_status = 404


class Conflict(ApplicationError):
    """The object is not in a state that allows this (409)."""

    default_code = "conflict"
    default_status = 409


class BudgetExceeded(ApplicationError):
    """Over a monthly budget (402). ``usage.services.BudgetExceeded`` adds what is left."""

    default_code = "budget_exceeded"
    default_status = 402
