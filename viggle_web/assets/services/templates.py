"""Template imports: a viggle.ai template becomes a gallery asset whose scene is followed like
any preprocessing; its cost is held like a render's estimate."""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.assets.services.common import (
    ACTIVE,
    AssetActionRefused,
)
from viggle_web.assets.services.preprocess import (
    _announce,
    _poll_interval,
    _status,
    _template_failed,
)
from viggle_web.usage.services import (
    budget_enforce,
    credit_charge_template,
    credit_release_template,
)

logger = logging.getLogger(__name__)

# --- Template import -----------------------------------------------------------------------------

_UUID = re.compile(
    r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE
)
TEMPLATE_LINK_HELP = (
    "Paste the template's link from viggle.ai (https://viggle.ai/…) or its id "
    "(like 3f2b8c1e-5d4a-4b6f-9e21-7c0d1a2b3c4d)."
)


def template_id_parse(text: str) -> str:
    """The template id in what a member pastes: the bare id, or a viggle.ai link holding it.
    Raises AssetActionRefused (before anything is sent anywhere) for anything else."""
    text = (text or "").strip()
    if not text:
        raise AssetActionRefused("A template link or id is needed. " + TEMPLATE_LINK_HELP)
    if _UUID.fullmatch(text):
        return str(uuid.UUID(text))
    candidate = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").lower()
    except ValueError:
        host, parts = "", None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not (host == "viggle.ai" or host.endswith(".viggle.ai"))
    ):
        raise AssetActionRefused(
            "That is not a viggle.ai template link or id. " + TEMPLATE_LINK_HELP
        )
    found = {str(uuid.UUID(m)) for m in _UUID.findall(f"{parts.path}?{parts.query}")}
    if len(found) != 1:
        raise AssetActionRefused(
            "That viggle.ai link does not name one template. " + TEMPLATE_LINK_HELP
        )
    return found.pop()


def template_import_cost() -> int:
    """What an import is held against budgets before the call (Viggle tells the real amount,
    ``credits_reserved``, only in its answer; the difference is booked then)."""
    return int(settings.VIGGLE_TEMPLATE_IMPORT_CREDITS)


def template_default_name() -> str:
    return f"Template of {timezone.localtime():%-d %b %Y %H:%M}"


def _live_template(template_id: str) -> Asset | None:
    return Asset.objects.filter(
        kind=Asset.Kind.TEMPLATE, template_id=template_id, archived_at__isnull=True
    ).first()


def asset_import_template(*, user: User, template_id: str, name: str = "") -> tuple[Asset, bool]:
    """Import a viggle.ai template (an id or a link) as a gallery asset with its scene. Returns
    (asset, created); a template already in the gallery is returned as is.

    Like a render: the cost is checked against the member's and the organisation's budget and
    held in the ledger in one transaction under their row locks, before any upstream call, so
    parallel imports cannot overshoot a budget. The import is then followed like any
    preprocessing (resource_poll_due) until Viggle reports it ready with its clip's length, or
    failed (the hold is released). Raises AssetActionRefused (bad input), BudgetExceeded, or
    ViggleError (Viggle refused: nothing stays booked)."""
    from viggle_web.viggle.client import get_client

    template_id = template_id_parse(template_id)
    name = " ".join((name or "").split())[:200] or template_default_name()
    existing = _live_template(template_id)
    if existing is not None:
        return existing, False
    cost = template_import_cost()
    with transaction.atomic():
        # Locks the member's row and the organisation's budget row until this commits: a
        # second import (any member's) waits here, then sees this hold.
        budget_enforce(user=user, credits=cost)
        existing = _live_template(template_id)
        if existing is not None:
            return existing, False
        asset = Asset.objects.create(
            kind=Asset.Kind.TEMPLATE, name=name, template_id=template_id, uploaded_by=user
        )
        resource = ViggleResource.objects.create(
            asset=asset,
            kind=ViggleResource.Kind.SCENE,
            model="",
            status=ViggleResource.Status.PENDING,
            requested_by=user,
        )
        subject = f"template:{asset.pk}"
        credit_charge_template(
            user=user, subject=subject, credits=cost, note=f"template {template_id}: held"
        )
    try:
        result = get_client().template_import(template_id=template_id, name=name)
    except BaseException as exc:
        # Refused (or no answer): nothing of ours stays. An import that Viggle may have started
        # without answering is not ours to follow: we have no id for it.
        reason = getattr(exc, "human_message", "") or type(exc).__name__
        with transaction.atomic():
            credit_release_template(user=user, subject=subject, reason=f"import refused: {reason}")
            asset.delete()
        raise
    status = _status(result.status)
    if status == ViggleResource.Status.READY:
        status = ViggleResource.Status.PROCESSING  # ready, but its length is read by a poll
    with transaction.atomic():
        Asset.objects.filter(pk=asset.pk).update(
            segments=[{"uuid": s.uuid, "type": s.type} for s in result.segments]
        )
        reserved = result.credits_reserved
        if reserved is not None and int(reserved) != cost:
            credit_charge_template(
                user=user,
                subject=f"{subject}:adjust",
                credits=int(reserved) - cost,
                note=f"template {template_id}: Viggle reserved {int(reserved)}",
            )
        ViggleResource.objects.filter(pk=resource.pk).update(
            upstream_id=result.id,
            status=status,
            next_poll_at=timezone.now() + _poll_interval() if status in ACTIVE else None,
            updated_at=timezone.now(),
        )
        if status == ViggleResource.Status.FAILED:
            _template_failed(resource.pk, "Viggle could not import this template.")
            _announce(resource.pk, status)
    asset.refresh_from_db()
    return asset, True
