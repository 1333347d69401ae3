"""Share links: one result for someone outside the team. The URL carries the link's key signed
with the project's secret (``signing``), so a guessed or altered key is refused before any
lookup; the link row holds the expiry chosen at creation and the revocation. Creation, every
opening and revocation are in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.batches.models import Result, ShareLink
from viggle_web.core.audit import audit_record

SALT = "viggle.share-link"
MAX_DAYS = 90


class ShareRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def share_token(link: ShareLink) -> str:
    return signing.Signer(salt=SALT).sign(link.key)


def _target(link: ShareLink) -> str:
    return f"share link {link.pk} to result of render {link.result.job.public_id}"


@transaction.atomic
def share_create(*, result: Result, actor: User, days: int | None = None) -> ShareLink:
    """A link to ``result`` that lasts ``days`` (default SHARE_LINK_DEFAULT_DAYS)."""
    if not actor.may_manage(result.job.owner_id):
        raise ShareRefused("Only the member who made this render or an admin can share it.")
    days = settings.SHARE_LINK_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ShareRefused(f"A link lasts 1 to {MAX_DAYS} days.")
    link = ShareLink.objects.create(
        result=result, created_by=actor, expires_at=timezone.now() + timedelta(days=days)
    )
    audit_record(actor=actor, action="share_created", target=_target(link), details={"days": days})
    return link


@transaction.atomic
def share_revoke(*, link: ShareLink, actor: User) -> ShareLink:
    link = ShareLink.objects.select_for_update().select_related("result__job").get(pk=link.pk)
    if not actor.may_manage(link.created_by_id):
        raise ShareRefused("Only the member who made this link or an admin can revoke it.")
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="share_revoked", target=_target(link))
    return link


@dataclass(frozen=True)
class Opened:
    """What a public share page may show: the video's file and a neutral title, nothing else."""

    link: ShareLink
    file_name: str
    storage: object
    title: str


def share_resolve(token: str) -> ShareLink | None:
    """The live link a token names; None if the signature is wrong, or the link is unknown,
    revoked or expired."""
    try:
        key = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    link = (
        ShareLink.objects.select_related("result__asset", "result__job")
        .filter(key=key, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if link is None or not link.result.asset.file:
        return None
    return link


def share_open(*, token: str, what: str = "page") -> Opened | None:
    """Resolve a token for the public page (``what="page"``, audited as an opening) or its
    video (not audited: a player fetches it in many ranges)."""
    link = share_resolve(token)
    if link is None:
        return None
    if what == "page":
        audit_record(actor=None, action="share_opened", target=_target(link))
    asset = link.result.asset
    return Opened(
        link=link, file_name=asset.file.name, storage=asset.file.storage, title="Shared video"
    )


def shares_visible(*, user: User) -> QuerySet[ShareLink]:
    links = ShareLink.objects.select_related("result__asset", "created_by").order_by(
        "-created_at", "-id"
    )
    return links if user.is_admin else links.filter(created_by=user)
