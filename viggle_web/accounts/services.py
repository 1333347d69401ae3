"""Writes on members. Rules live here, not in views."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from viggle_web.accounts.models import User
from viggle_web.accounts.signals import member_deactivated
from viggle_web.core.audit import audit_record


@transaction.atomic
def member_create(
    *,
    actor: User | None = None,
    username: str,
    email: str,
    role: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Add a member. Without a password the account gets an unusable one until the member
    follows their one-time set-password link (see ``member_set_password_path``)."""
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "A member with that username already exists."})
    user = User(
        username=username,
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        actor=actor,
        action="member_added",
        target=user.username,
        details={"role": role, "email": email, "password_link": not password},
    )
    return user


def member_set_password_path(*, user: User) -> str:
    """A one-time link: the token is invalidated once the password changes (Django's
    password-reset token covers the password hash and last login)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("members:set_password", kwargs={"uidb64": uid, "token": token})


@transaction.atomic
def member_password_link(*, actor: User, user: User) -> str:
    """A new one-time set-password link for ``user``, made by an admin (audited)."""
    audit_record(actor=actor, action="password_link", target=user.username)
    return member_set_password_path(user=user)


def _active_admin_count(exclude: User) -> int:
    admins = Q(role=User.Role.ADMIN) | Q(is_superuser=True)
    return User.objects.filter(admins, is_active=True).exclude(pk=exclude.pk).count()


@transaction.atomic
def member_update(
    *,
    actor: User,
    user: User,
    role: str,
    email: str,
    first_name: str | None = None,
    last_name: str | None = None,
) -> User:
    """Change a member's role, email and (when given) name."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if role not in User.Role.values:
        raise ValidationError({"role": "Choose admin or member."})
    if user.role == User.Role.ADMIN and role != User.Role.ADMIN:
        if user.is_superuser:
            raise ValidationError({"role": "A superuser always keeps the admin role."})
        if _active_admin_count(exclude=user) == 0:
            raise ValidationError({"role": "The team needs at least one active admin."})
    old_role = user.role
    user.role = role
    user.email = email
    if first_name is not None:
        user.first_name = first_name.strip()
    if last_name is not None:
        user.last_name = last_name.strip()
    user.full_clean(exclude=["password"])
    user.save(update_fields=["role", "email", "first_name", "last_name"])
    if old_role != role:
        audit_record(
            actor=actor,
            action="role_changed",
            target=user.username,
            details={"from": old_role, "to": role},
        )
    return user


@transaction.atomic
def member_set_active(*, actor: User, user: User, active: bool) -> User:
    """Deactivate or reactivate. Deactivating ends the member's credentials for good: their
    sessions (a new ``auth_epoch`` changes the hash every session made before carries) and,
    through ``member_deactivated``, their API tokens; reactivating brings neither back. Their
    jobs, assets and usage history stay."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not active:
        if user.pk == actor.pk:
            raise ValidationError("You cannot deactivate yourself.")
        if user.is_admin and _active_admin_count(exclude=user) == 0:
            raise ValidationError("The team needs at least one active admin.")
    changed = user.is_active != active
    user.is_active = active
    if not active:
        user.auth_epoch += 1
    user.save(update_fields=["is_active", "auth_epoch"])
    if not active:
        member_deactivated.send(sender=User, user=user, actor=actor)
    if changed:
        audit_record(
            actor=actor,
            action="member_reactivated" if active else "member_deactivated",
            target=user.username,
        )
    return user
