"""Collections: a member makes one, adds assets from its page, the gallery filters by it, and the
usage split by collection counts the renders that used its assets with their ledger credits."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.assets.test_preprocess import upload
from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_row
from viggle_web.batches.models import Collection
from viggle_web.renders.models import RenderJob

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


def test_the_renders_and_batches_lists_filter_by_collection(
    member_client, member, media_root, tmp_path
):
    """Everything lists by collection: the renders list (and its live stream's new jobs) and the
    batches list keep what used the collection's assets, as the usage split counts them. The
    assets are uploaded through the gallery (their lengths are the upload's probe)."""
    hero = upload(member_client, make_png(tmp_path / "Hero.png"))
    walk = upload(member_client, make_mp4(tmp_path / "Walk.mp4", seconds=2.0))
    jump = upload(member_client, make_mp4(tmp_path / "Jump.mp4", seconds=2.0, size=(176, 144)))
    member_client.post(reverse("batches:collections"), {"name": "Client A"})
    collection = Collection.objects.get()
    member_client.post(reverse("batches:collection", args=[collection.pk]), {"assets": [walk.pk]})
    for motions in ([walk], [jump]):  # a batch with the collection's motion, one without
        member_client.post(
            reverse("batches:new"),
            {
                "characters": [hero.pk],
                "motions": [m.pk for m in motions],
                "model": "V4_Preview",
                "background_mode": "original",
                "bg_color": "#00ff00",
                "idempotency_key": uuid.uuid4().hex,
            },
        )
    in_collection = RenderJob.objects.get(motion=walk)
    elsewhere = RenderJob.objects.get(motion=jump)
    group = f"collection:{collection.pk}"

    renders = member_client.get(reverse("renders:list"), {"group": group})
    page = renders.content.decode()
    assert renders.status_code == 200
    assert f'id="job-{in_collection.public_id}"' in page
    assert f'id="job-{elsewhere.public_id}"' not in page
    assert f'<option value="{group}" selected>Client A</option>' in page
    everything = member_client.get(reverse("renders:list")).content.decode()
    assert f'id="job-{elsewhere.public_id}"' in everything

    # The list's stream asks for new jobs under the same filter.
    stream_url = page.split('sse-connect="')[1].split('"')[0].replace("&amp;", "&")
    assert f"group=collection%3A{collection.pk}" in stream_url

    batches = member_client.get(reverse("batches:list"), {"collection": collection.pk})
    listed = batches.content.decode()
    with_walk = in_collection.batch_item.batch.public_id
    with_jump = elsewhere.batch_item.batch.public_id
    assert with_walk in listed and with_jump not in listed
    assert with_jump in member_client.get(reverse("batches:list")).content.decode()

    # A collection that does not exist is a message next to the filter, not an error page.
    for url, params in (
        (reverse("renders:list"), {"group": "collection:999999"}),
        (reverse("batches:list"), {"collection": "999999"}),
    ):
        bad = member_client.get(url, params)
        assert bad.status_code == 400
        text = bad.content.decode()
        assert "Collection:" in text and "This filter was left out." in text
        assert with_jump in text or f'id="job-{elsewhere.public_id}"' in text
