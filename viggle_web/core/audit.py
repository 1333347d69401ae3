"""Record security-relevant actions. Called from services, inside their transactions, so an
action and its audit row are written together or not at all."""

from __future__ import annotations

from typing import Any

from viggle_web.core.clientip import current_client_ip
from viggle_web.core.models import AuditEvent


def audit_record(
    *, actor: Any | None, action: str, target: str, details: dict[str, Any] | None = None
) -> AuditEvent:
    if action not in AuditEvent.Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    details = dict(details or {})
    address = current_client_ip()
    if address and "address" not in details:
        # The same client address as login throttling and rate limits (core/clientip.py).
        details["address"] = address
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target=target[:200],
        details=details,
    )
