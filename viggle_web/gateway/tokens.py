"""API tokens: made (shown once), revoked, checked on every call; a member's tokens die
with their account."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.core.audit import audit_record
from viggle_web.gateway.models import ApiToken

TOKEN_PREFIX = "vs_"  # noqa: S105 - a marker, not a secret
DISPLAY_PREFIX_CHARS = 10
LAST_USED_GRANULARITY = timedelta(seconds=60)


# --- tokens ---------------------------------------------------------------------------------------


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    raw: str  # shown to the member once, never stored


class TokenLimitReached(ValueError):
    """The member holds as many live tokens as GATEWAY_TOKENS_PER_MEMBER allows."""


@transaction.atomic
def token_create(*, user: User, name: str) -> CreatedToken:
    """A new token for ``user``; at most ``GATEWAY_TOKENS_PER_MEMBER`` live ones each (the
    member's row is locked, so two requests at once cannot both take the last place)."""
    name = " ".join(name.split())[:100]
    if not name:
        raise ValueError("A token needs a name.")
    User.objects.select_for_update().filter(pk=user.pk).first()
    cap = settings.GATEWAY_TOKENS_PER_MEMBER
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= cap:
        raise TokenLimitReached(
            f"You have {cap} live tokens, the most a member may hold "
            f"(at most {cap}): revoke one you no longer use first."
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:DISPLAY_PREFIX_CHARS], token_hash=token_hash(raw)
    )
    audit_record(
        actor=user,
        action="token_created",
        target=f"{user.username}'s token “{name}” ({token.prefix}…)",
    )
    return CreatedToken(token=token, raw=raw)


def token_can_revoke(*, token: ApiToken, actor: User) -> bool:
    return actor.may_manage(token.user_id)


def token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    """Revoke ``token`` (its member or an admin). Revoking twice changes nothing."""
    if not token_can_revoke(token=token, actor=actor):
        raise PermissionDenied("Only the token's member or an admin can revoke it.")
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor
        )
        token.refresh_from_db()
        if revoked:
            audit_record(
                actor=actor,
                action="token_revoked",
                target=f"{token.user.username}'s token “{token.name}” ({token.prefix}…)",
            )
    return token


def token_revoke_all_on_deactivation(*, user: User, actor: User, **_signal: object) -> None:
    """Receiver of accounts' ``member_deactivated``: every live token of the member is revoked
    (in the deactivating transaction), so reactivation does not bring them back."""
    live = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True))
    if not live:
        return
    ApiToken.objects.filter(pk__in=[t.pk for t in live]).update(
        revoked_at=timezone.now(), revoked_by=actor
    )
    for token in live:
        audit_record(
            actor=actor,
            action="token_revoked",
            target=f"{user.username}'s token “{token.name}” ({token.prefix}…)",
            details={"reason": "member deactivated"},
        )


def token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token for ``raw``: not revoked, its member active. Records last use (at most
    once a minute, so polling scripts do not write on every call)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=token_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
