from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A member of the team. ``role`` decides what they may administer."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        ordering = ["username"]

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.role == self.Role.ADMIN or self.is_superuser)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs) -> None:
        # `createsuperuser` makes the first admin: a superuser always holds the admin role.
        if self.is_superuser:
            self.role = self.Role.ADMIN
        super().save(*args, **kwargs)
