"""The audit log: security-relevant actions, kept for admins; and what rows with work under
way share."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class ActiveWhile:
    """A row whose ``status`` is in its class's ``ACTIVE`` while its work is under way (a
    render, an export)."""

    ACTIVE: ClassVar[tuple[str, ...]]
    status: str

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        MEMBER_ADDED = "member_added", "Member added"
        ROLE_CHANGED = "role_changed", "Role changed"
        MEMBER_DEACTIVATED = "member_deactivated", "Member deactivated"
        MEMBER_REACTIVATED = "member_reactivated", "Member reactivated"
        PASSWORD_LINK = "password_link", "Set-password link made"
        BUDGET_CHANGED = "budget_changed", "Budget changed"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        ASSET_DELETED = "asset_deleted", "Asset deleted"
        ASSET_ARCHIVED = "asset_archived", "Asset archived"
        JOB_FILES_DELETED = "job_files_deleted", "Render files deleted"
        RENDER_SEND_RESOLVED = "render_send_resolved", "Unknown render send resolved"
        SHARE_CREATED = "share_created", "Share link created"
        SHARE_OPENED = "share_opened", "Share link opened"
        SHARE_REVOKED = "share_revoked", "Share link revoked"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=200, help_text="What it was done to, for people.")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="audit_action_newest")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target}"
