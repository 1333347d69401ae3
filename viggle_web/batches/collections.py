"""Collections: named groups of gallery assets and results, shared by the team. The gallery
filters by them (a "show" source registered in BatchesConfig.ready) and the usage split reads the
ledger of the renders that used their assets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.batches.models import Collection
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

PREFIX = "collection:"


class CollectionRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def collection_create(*, name: str, actor: User) -> Collection:
    name = " ".join(name.split())[:100]
    if not name:
        raise CollectionRefused("Give the collection a name.")
    try:
        with transaction.atomic():
            return Collection.objects.create(name=name, created_by=actor)
    except IntegrityError:
        raise CollectionRefused(f"There is already a collection called “{name}”.")


def collection_add(*, collection: Collection, assets: list[Asset]) -> int:
    """Put assets into the collection (the gallery is the team's: any member may)."""
    before = collection.assets.count()
    collection.assets.add(*assets)
    return collection.assets.count() - before


def collection_remove(*, collection: Collection, asset: Asset) -> None:
    collection.assets.remove(asset)


def collection_delete(*, collection: Collection, actor: User) -> None:
    if not actor.may_manage(collection.created_by_id):
        raise CollectionRefused(
            "Only the member who made this collection or an admin can delete it."
        )
    collection.delete()  # the assets stay in the gallery


# --- the gallery's "show" source (registered in BatchesConfig.ready) -----------------------------


def show_choices() -> list[tuple[str, str]]:
    return [
        (f"{PREFIX}{pk}", f"Collection: {name}")
        for pk, name in Collection.objects.order_by("name").values_list("pk", "name")
    ]


def show_apply(value: str, assets: QuerySet[Asset]) -> QuerySet[Asset] | None:
    if not value.startswith(PREFIX) or not value[len(PREFIX) :].isdigit():
        return None
    return assets.filter(collections__pk=int(value[len(PREFIX) :]))


def jobs_choices() -> list[tuple[str, str]]:
    """The renders list's "Collection" filter: one choice per collection."""
    return [
        (f"{PREFIX}{pk}", name)
        for pk, name in Collection.objects.order_by("name").values_list("pk", "name")
    ]


def jobs_apply(value: str, jobs: QuerySet[RenderJob]) -> QuerySet[RenderJob] | None:
    """The renders of a collection: those whose character or motion it holds (as the usage
    split counts them)."""
    if not value.startswith(PREFIX) or not value[len(PREFIX) :].isdigit():
        return None
    held = Collection.assets.through.objects.filter(collection_id=int(value[len(PREFIX) :])).values(
        "asset_id"
    )
    return jobs.filter(Q(character_id__in=held) | Q(motion_id__in=held))


# --- usage split by collection -------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionUsage:
    collection: Collection
    renders: int
    credits: int


def collection_usage(*, start: datetime, end: datetime) -> list[CollectionUsage]:
    """Per collection: the renders started in [start, end) whose character or motion is in it,
    and their net ledger credits (reserved while
    running, charged when complete, nothing once refunded), as the usage report counts them.
    A render in two collections counts in both."""
    rows = []
    for collection in Collection.objects.order_by("name"):
        ids = list(collection.assets.values_list("pk", flat=True))
        jobs = RenderJob.objects.filter(
            Q(character_id__in=ids) | Q(motion_id__in=ids),
            created_at__gte=start,
            created_at__lt=end,
        )
        credits = CreditEntry.objects.filter(job__in=jobs).aggregate(total=Sum("credits"))
        rows.append(
            CollectionUsage(
                collection=collection, renders=jobs.count(), credits=credits["total"] or 0
            )
        )
    return rows
