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
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.batches.models import Collection, Result, ShareLink
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
    if link.result_id:
        return f"share link {link.pk} to result of render {link.result.job.public_id}"
    return f"share link {link.pk} to collection {link.collection.name}"


def _results_of(collection: Collection) -> QuerySet[Asset]:
    """The collection's results that a share of it shows, in a stable order."""
    return collection.assets.filter(render_result__isnull=False, archived_at__isnull=True).order_by(
        "pk"
    )


@transaction.atomic
def share_create(
    *,
    actor: User,
    result: Result | None = None,
    collection: Collection | None = None,
    days: int | None = None,
) -> ShareLink:
    """A link to ``result`` (its render's member or an admin) or to ``collection``'s results
    (its creator or an admin) that lasts ``days`` (default SHARE_LINK_DEFAULT_DAYS)."""
    if (result is None) == (collection is None):
        raise ShareRefused("Share one result or one collection.")
    owner = result.job.owner_id if result is not None else collection.created_by_id
    if not actor.may_manage(owner):
        raise ShareRefused("Only the member who made it or an admin can share it.")
    if collection is not None and not _results_of(collection).exists():
        raise ShareRefused("This collection holds no render results to share.")
    days = settings.SHARE_LINK_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ShareRefused(f"A link lasts 1 to {MAX_DAYS} days.")
    link = ShareLink.objects.create(
        result=result,
        collection=collection,
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit_record(actor=actor, action="share_created", target=_target(link), details={"days": days})
    return link


@transaction.atomic
def share_revoke(*, link: ShareLink, actor: User) -> ShareLink:
    link = (
        ShareLink.objects.select_for_update(of=("self",))
        .select_related("result__job", "collection")
        .get(pk=link.pk)
    )
    if not actor.may_manage(link.created_by_id):
        raise ShareRefused("Only the member who made this link or an admin can revoke it.")
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="share_revoked", target=_target(link))
    return link


@dataclass(frozen=True)
class Shared:
    """What a public share page may show: the videos' files and a neutral title, nothing else."""

    link: ShareLink
    files: list[FieldFile]
    title: str


def share_resolve(token: str) -> ShareLink | None:
    """The live link a token names; None if the signature is wrong, or the link is unknown,
    revoked or expired."""
    try:
        key = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    return (
        ShareLink.objects.select_related("result__asset", "result__job", "collection")
        .filter(key=key, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def share_open(*, token: str, audit: bool = True) -> Shared | None:
    """Resolve a token for the public page (audited as an opening) or for one of its videos
    (``audit=False``: a player fetches a video in many ranges). None: no longer shared."""
    link = share_resolve(token)
    if link is None:
        return None
    if link.result_id:
        assets = [link.result.asset] if not link.result.asset.is_archived else []
    else:
        assets = list(_results_of(link.collection))
    files = [asset.file for asset in assets if asset.file]
    if not files:
        return None
    if audit:
        audit_record(actor=None, action="share_opened", target=_target(link))
    title = "Shared video" if len(files) == 1 else "Shared videos"
    return Shared(link=link, files=files, title=title)


def shares_visible(*, user: User) -> QuerySet[ShareLink]:
    links = ShareLink.objects.select_related("result__asset", "collection", "created_by").order_by(
        "-created_at", "-id"
    )
    return links if user.is_admin else links.filter(created_by=user)
