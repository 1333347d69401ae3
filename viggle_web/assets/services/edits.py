"""Edits of gallery assets: rename, tags, favourites, delete (archived instead when a render
used the asset)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, Tag
from viggle_web.assets.selectors import asset_is_used
from viggle_web.assets.services.common import (
    MAX_TAGS,
    AssetActionRefused,
)
from viggle_web.assets.services.uploads import _delete_files
from viggle_web.core.audit import audit_record

logger = logging.getLogger(__name__)

# --- Edits ---------------------------------------------------------------------------------------


def asset_can_change(*, asset: Asset, user: User) -> bool:
    """The gallery is shared for viewing; renaming, tagging and deleting belong to the member
    who uploaded the asset and to admins."""
    return user.may_manage(asset.uploaded_by_id)


def asset_rename(*, asset: Asset, name: str) -> Asset:
    name = name.strip()
    if not name:
        raise AssetActionRefused("A name cannot be empty.")
    asset.name = name[:200]
    asset.save(update_fields=["name"])
    return asset


def parse_tag_names(text: str) -> list[str]:
    """'Dance, hero  ,dance' -> ['dance', 'hero']: lower case, unique, in order."""
    names: list[str] = []
    for raw in text.replace("#", " ").split(","):
        name = " ".join(raw.split()).lower()
        if not name:
            continue
        if len(name) > 40:
            raise AssetActionRefused(f"The tag “{name[:40]}…” is longer than 40 characters.")
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise AssetActionRefused(f"An asset can have at most {MAX_TAGS} tags.")
    return names


@transaction.atomic
def asset_tags_set(*, asset: Asset, names: list[str]) -> Asset:
    tags = []
    for name in names:
        tag, _ = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    asset.tags.set(tags)
    return asset


def asset_favourite_toggle(*, asset: Asset, user: User) -> bool:
    """Star or unstar ``asset`` for ``user``; returns whether it is now a favourite."""
    through = Asset.favourited_by.through
    deleted, _ = through.objects.filter(asset_id=asset.pk, user_id=user.pk).delete()
    if deleted:
        return False
    through.objects.get_or_create(asset_id=asset.pk, user_id=user.pk)
    return True


@transaction.atomic
def asset_delete(*, asset: Asset, actor: User | None = None, audit: bool = True) -> str:
    """Delete ``asset`` and its files, or archive it if a render used it (renders keep their
    inputs for history). Returns "archived" or "deleted"."""
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    target = f"{asset.get_kind_display()} “{asset.name}” (#{asset.pk})"
    if asset_is_used(asset=asset):
        if asset.archived_at is None:
            asset.archived_at = timezone.now()
            asset.save(update_fields=["archived_at"])
            audit_record(actor=actor, action="asset_archived", target=target)
        return "archived"
    names = [asset.file.name, asset.preview.name]
    try:
        with transaction.atomic():
            asset.delete()
    except ProtectedError:
        # A render took it between the check and the delete: keep it after all.
        asset.archived_at = timezone.now()
        asset.save(update_fields=["archived_at"])
        audit_record(actor=actor, action="asset_archived", target=target)
        return "archived"
    if audit:
        audit_record(actor=actor, action="asset_deleted", target=target)
    # Files go only once the row is surely gone.
    transaction.on_commit(lambda: _delete_files(names))
    return "deleted"
