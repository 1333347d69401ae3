"""Collections: a member makes one, adds assets from its page, the gallery filters by it, and the
usage split by collection counts the renders that used its assets with their ledger credits."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.renders.factories import asset_row
from viggle_web.batches.models import Collection

pytestmark = pytest.mark.django_db


def test_a_collection_groups_assets_filters_the_gallery_and_splits_usage(member_client, member):
    hero = asset_row(owner=member, kind="image", name="Hero")
    walk = asset_row(owner=member, seconds=3.0, name="Walk")
    other = asset_row(owner=member, seconds=2.0, name="Unrelated dance")
    response = member_client.post(reverse("batches:collections"), {"name": "Client A"})
    collection = Collection.objects.get()
    assert response.url == reverse("batches:collection", args=[collection.pk])
    member_client.post(
        reverse("batches:collection", args=[collection.pk]), {"assets": [hero.pk, walk.pk]}
    )
    assert set(collection.assets.all()) == {hero, walk}

    gallery = member_client.get(reverse("gallery:index"), {"show": f"collection:{collection.pk}"})
    page = gallery.content.decode()
    assert f'id="asset-{hero.pk}"' in page and f'id="asset-{walk.pk}"' in page
    assert f'id="asset-{other.pk}"' not in page
    assert "Collection: Client A" in page  # offered by the Show filter

    # Two renders: one with the collection's motion (3 credits), one without (2 credits).
    for motion in (walk, other):
        member_client.post(
            reverse("renders:new"),
            {
                "character": hero.pk
                if motion is walk
                else asset_row(owner=member, kind="image").pk,
                "motion": motion.pk,
                "model": "V4_Preview",
                "background_mode": "original",
                "bg_color": "#00ff00",
                "idempotency_key": uuid.uuid4().hex,
            },
        )
    usage = member_client.get(reverse("batches:collections")).content.decode()
    row = usage.split(f'id="collection-{collection.pk}"')[1].split("</tr>")[0]
    assert '<td class="renders">1</td>' in row
    assert '<td class="credits">3</td>' in row

    # Taken out again: no longer under the filter.
    member_client.post(reverse("batches:collection_remove", args=[collection.pk, walk.pk]))
    gallery = member_client.get(reverse("gallery:index"), {"show": f"collection:{collection.pk}"})
    assert f'id="asset-{walk.pk}"' not in gallery.content.decode()


def test_a_duplicate_name_is_refused(member_client, member):
    member_client.post(reverse("batches:collections"), {"name": "Client A"})
    again = member_client.post(reverse("batches:collections"), {"name": "Client  A"})
    assert again.status_code == 400
    assert "already a collection" in again.content.decode()
    assert Collection.objects.count() == 1
