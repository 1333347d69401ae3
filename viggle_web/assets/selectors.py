"""Reads on the gallery: the filtered, sorted card list and an asset's render history."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Lower

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, Tag, ViggleResource

SORTS = {
    "newest": ("Newest", ("-created_at", "-id")),
    "name": ("Name", (Lower("name"), "id")),
    "duration": ("Duration", (F("duration_seconds").desc(nulls_last=True), "-id")),
    "most_used": ("Most used", ("-use_count", "-created_at", "-id")),
}


def assets_for_cards(*, user: User) -> QuerySet[Asset]:
    """Assets with what a card shows, in a fixed number of queries whatever the page size."""
    favourites = Asset.favourited_by.through.objects.filter(
        asset_id=OuterRef("pk"), user_id=user.pk
    )
    return (
        Asset.objects.select_related("uploaded_by")
        .annotate(is_favourite=Exists(favourites))
        .prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            Prefetch("viggle_resources", queryset=ViggleResource.objects.order_by("kind", "model")),
        )
    )


def asset_list(
    *,
    user: User,
    q: str = "",
    kind: str = "",
    uploader: User | None = None,
    tag: Tag | None = None,
    favourites: bool = False,
    sort: str = "newest",
    include_archived: bool = False,
) -> QuerySet[Asset]:
    assets = assets_for_cards(user=user)
    if not include_archived:
        assets = assets.filter(archived_at__isnull=True)
    if q:
        assets = assets.filter(name__icontains=q)
    if kind:
        assets = assets.filter(kind=kind)
    if uploader is not None:
        assets = assets.filter(uploaded_by=uploader)
    if tag is not None:
        assets = assets.filter(tags=tag)
    if favourites:
        assets = assets.filter(is_favourite=True)
    return assets.order_by(*SORTS.get(sort, SORTS["newest"])[1])


def asset_renders(*, asset: Asset, limit: int = 50) -> list:
    """The renders that used ``asset`` as character or motion, newest first."""
    from viggle_web.renders.models import RenderJob

    return list(
        RenderJob.objects.filter(Q(character=asset) | Q(motion=asset))
        .select_related("owner")
        .order_by("-created_at", "-id")[:limit]
    )
