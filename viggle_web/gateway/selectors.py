"""The gateway's reads: tokens listed, jobs found and described in Viggle's vocabulary, what
a member can spend. Writes live in services.py (and tokens.py, downloads.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.gateway import errors
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.models import ApiObject, ApiRender, ApiToken
from viggle_web.renders.models import RenderJob
from viggle_web.usage.selectors import budget_status
from viggle_web.viggle.client import get_client
from viggle_web.viggle.errors import ViggleError


def tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def tokens_all_active() -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(revoked_at__isnull=True).select_related("user")


def render_get(*, public_id: str) -> RenderJob:
    """A job for the token-free status endpoint: only jobs started through the API, found by
    their unguessable id (web renders stay behind the login)."""
    job = (
        RenderJob.objects.select_related("character", "motion")
        .filter(public_id=public_id, source=RenderJob.Source.API)
        .first()
    )
    if job is None:
        raise ApiError(errors.NOT_FOUND, "Job not found")
    return job


def api_status(job: RenderJob) -> str:
    """Our job states in Viggle's vocabulary."""
    if job.status in (RenderJob.Status.PENDING, RenderJob.Status.QUEUED):
        return "queued"
    if job.status in (
        RenderJob.Status.PROCESSING,
        RenderJob.Status.FINISHING,
        RenderJob.Status.ATTENTION,  # whether Viggle started it is being checked: in progress
    ):
        return "processing"
    return str(job.status)


def api_mode(job: RenderJob) -> str:
    """Viggle's ``mode`` for an API job: what the script asked for (ApiRender)."""
    asked = ApiRender.objects.filter(job_id=job.pk).values_list("mode", flat=True).first()
    if asked:
        return asked
    # A job from before ApiRender was kept: judged from its inputs.
    if job.fast:
        return "fast"
    motion = job.motion
    if motion is not None and (
        motion.kind == Asset.Kind.TEMPLATE
        or (
            job.character is not None
            and job.character.character_id()
            and motion.scene_id(job.model)
        )
    ):
        return "preprocessed"
    return "full_pipeline"


# --- credits ------------------------------------------------------------------------------------


def credits_summary(*, user: User) -> dict[str, Any]:
    """GET /api/credits for the token's member. ``balance`` is what they can spend now: their
    own remaining monthly budget when they have a cap (never more than the organisation's
    remaining budget when that is capped too); else the organisation's remaining budget; and
    when neither is capped, what the organisation's Viggle account holds (asked of Viggle).
    ``balance_source`` says which of the three it is. ``total_used`` is what they spent this
    month; ``total_purchased`` and ``monthly_cap`` are their cap (null when uncapped)."""
    status = budget_status(user=user)
    remaining = status.remaining
    if status.member.cap is not None:
        source = "member_budget"
        if status.org.cap is not None and status.org.remaining < status.member.remaining:
            source = "organisation_budget"
        balance: float = remaining if remaining is not None else 0
    elif status.org.cap is not None:
        source, balance = "organisation_budget", status.org.remaining
    else:
        try:
            upstream = get_client().credits().balance
        except ViggleError as exc:
            raise errors.upstream_error(exc)
        source, balance = "viggle_account", upstream
    return {
        "balance": int(balance) if float(balance).is_integer() else balance,
        "balance_source": source,
        "total_purchased": status.member.cap,
        "total_used": status.member.used,
        "monthly_cap": status.member.cap,
        "organisation_remaining": status.org.remaining if status.org.cap is not None else None,
        "resets_at": status.resets_at.isoformat(),
        "updated_at": timezone.now().isoformat(),
    }


def objects_visible(*, user: User, kind: str) -> QuerySet[ApiObject]:
    """The characters or scenes a member sees through the API: their own (admins: all)."""
    rows = (
        ApiObject.objects.filter(kind=kind)
        .select_related("asset")
        .prefetch_related("asset__viggle_resources")
    )
    return rows if user.is_admin else rows.filter(owner=user)


def object_get(*, user: User, kind: str, public_id: str) -> ApiObject:
    found = objects_visible(user=user, kind=kind).filter(public_id=public_id).first()
    if found is None:
        code = errors.NO_CHARACTER if kind == ApiObject.Kind.CHARACTER else errors.NO_SCENE
        raise ApiError(code, f"{kind.capitalize()} not found", status=404)
    return found


def object_resource(obj: ApiObject) -> ViggleResource | None:
    kind = ViggleResource.Kind.CHARACTER if obj.kind == ApiObject.Kind.CHARACTER else "scene"
    return obj.asset.resource(kind, obj.model)
