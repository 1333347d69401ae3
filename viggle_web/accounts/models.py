from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac


class User(AbstractUser):
    """A member of the team. ``role`` decides what they may administer."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # Raised when a member is deactivated: every session made before carries the old value in
    # its auth hash, so reactivating the member does not bring those sessions back.
    auth_epoch = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["username"]

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.role == self.Role.ADMIN or self.is_superuser)

    def may_manage(self, owner_id: int | None) -> bool:
        """The one owner-or-admin rule: what a member made (an asset, a render, a token) may be
        changed by that member and by admins; everyone else may at most look at it."""
        return self.is_admin or (owner_id is not None and owner_id == self.pk)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def get_session_auth_hash(self) -> str:
        if not self.auth_epoch:
            return super().get_session_auth_hash()
        return salted_hmac(
            "viggle_web.accounts.User.get_session_auth_hash",
            f"{self.password}:{self.auth_epoch}",
            algorithm="sha256",
        ).hexdigest()

    def get_session_auth_fallback_hash(self):  # type: ignore[no-untyped-def]
        # The fallback secrets' hashes would not carry the epoch: offer them only before it.
        if not self.auth_epoch:
            yield from super().get_session_auth_fallback_hash()

    def save(self, *args, **kwargs) -> None:
        # `createsuperuser` makes the first admin: a superuser always holds the admin role.
        if self.is_superuser:
            self.role = self.Role.ADMIN
        super().save(*args, **kwargs)
