"""Reads on the gallery: the filtered, sorted card list and an asset's render history."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet
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


AssetUses = Callable[[Asset, int], list]
# Apps above the gallery whose rows use assets (renders) register, at start-up from their
# AppConfig.ready, how to find those rows: the gallery never imports them.
_asset_uses: list[AssetUses] = []


def asset_uses_register(find: AssetUses) -> None:
    """``find(asset, limit)`` returns up to ``limit`` rows that used ``asset``, newest first."""
    if find not in _asset_uses:
        _asset_uses.append(find)


def asset_renders(*, asset: Asset, limit: int = 50) -> list:
    """What used ``asset`` (the renders that had it as character, motion or a template
    person's character), newest first."""
    found: list = []
    for find in _asset_uses:
        found += find(asset, limit)
    return found[:limit]


def asset_is_used(*, asset: Asset) -> bool:
    """Whether anything used ``asset``: then it is archived, never deleted."""
    return bool(asset_renders(asset=asset, limit=1))
