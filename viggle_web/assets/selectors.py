"""Reads on the gallery: the filtered, sorted card list and an asset's render history."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Lower

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, Tag, ViggleResource
from viggle_web.core.registries import FilterSources
from viggle_web.usage.models import CreditEntry

SORTS = {
    "newest": ("Newest", ("-created_at", "-id")),
    "name": ("Name", (Lower("name"), "id")),
    "duration": ("Duration", (F("duration_seconds").desc(nulls_last=True), "-id")),
    "most_used": ("Most used", ("-use_count", "-created_at", "-id")),
}


CardAnnotation = Callable[[QuerySet[Asset]], QuerySet[Asset]]
GalleryShow = Callable[[QuerySet[Asset]], QuerySet[Asset]]
# What apps above the gallery add to its cards (batches: a render's result, its lineage and
# approval) and the "show" filters they offer; registered from their AppConfig.ready.
_card_annotations: list[CardAnnotation] = []
_gallery_shows: dict[str, tuple[str, GalleryShow]] = {}


def asset_card_annotation_register(annotate: CardAnnotation) -> None:
    if annotate not in _card_annotations:
        _card_annotations.append(annotate)


def gallery_show_register(name: str, label: str, apply: GalleryShow) -> None:
    """A gallery filter "show ``label``" that narrows the assets with ``apply``."""
    _gallery_shows[name] = (label, apply)


# Show filters whose values come from rows (batches: one per collection).
_gallery_show_sources: FilterSources[Asset] = FilterSources()
gallery_show_source_register = _gallery_show_sources.register


def gallery_show_choices() -> list[tuple[str, str]]:
    fixed = [(name, label) for name, (label, _) in _gallery_shows.items()]
    return fixed + _gallery_show_sources.choices()


def _gallery_show(show: str, assets: QuerySet[Asset]) -> QuerySet[Asset]:
    if show in _gallery_shows:
        return _gallery_shows[show][1](assets)
    return _gallery_show_sources.apply(show, assets)


def assets_for_cards(*, user: User) -> QuerySet[Asset]:
    """Assets with what a card shows, in a fixed number of queries whatever the page size."""
    favourites = Asset.favourited_by.through.objects.filter(
        asset_id=OuterRef("pk"), user_id=user.pk
    )
    assets = Asset.objects.all()
    for annotate in _card_annotations:
        assets = annotate(assets)
    return (
        assets.select_related("uploaded_by")
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
    show: str = "",
) -> QuerySet[Asset]:
    assets = assets_for_cards(user=user)
    if show:
        assets = _gallery_show(show, assets)
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


def asset_preparation_credits(*, asset: Asset) -> dict[str, dict[str, int]]:
    """What preparing ``asset`` for Viggle cost, from the ledger, for a character and for a
    template import: ``held`` (every credit booked for it) and ``net`` (what stays spent after a
    release). A scene is free, so it has no entry; a character books 1 credit; a template import
    holds its cost and gives it back when the import fails."""
    subjects = {
        "character": [f"character:{asset.pk}"],
        "template": [f"template:{asset.pk}", f"template:{asset.pk}:adjust"],
    }
    sums = CreditEntry.objects.aggregate(
        **{
            f"{kind}_{part}": Sum("credits", filter=Q(subject__in=names, **extra))
            for kind, names in subjects.items()
            for part, extra in (("held", {"credits__gt": 0}), ("net", {}))
        }
    )
    return {
        kind: {"held": sums[f"{kind}_held"] or 0, "net": sums[f"{kind}_net"] or 0}
        for kind in subjects
    }
