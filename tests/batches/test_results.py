"""Results are assets: a render that completes (real worker, simulator) appears in the gallery as
a result with its lineage, can be approved and filtered by it, and is the motion of a next
render."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster, wait_until
from viggle_web.assets.models import Asset
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)


def _render(client, character: Asset, motion: Asset):
    response = client.post(
        reverse("renders:new"),
        {
            "character": character.pk,
            "motion": motion.pk,
            "model": "V4_Preview",
            "background_mode": "original",
            "bg_color": "#00ff00",
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return RenderJob.objects.get(public_id=response.url.rstrip("/").rsplit("/", 1)[-1])


@pytest.fixture
def hero_and_walk(member, tmp_path) -> tuple[Asset, Asset]:
    """A character image and a 1 s motion video, real files."""
    hero = asset_with_file(
        owner=member, kind="image", path=make_png(tmp_path / "h.png"), name="Hero"
    )
    walk = asset_with_file(
        owner=member, kind="video", path=make_mp4(tmp_path / "w.mp4", seconds=1.0), name="Walk"
    )
    return hero, walk


def test_a_finished_render_is_a_gallery_result_and_the_motion_of_the_next(
    viggle_sim, member_client, member, hero_and_walk
):
    hero, walk = hero_and_walk
    viggle_sim.set_speed(3.0)
    worker = QCluster("results").start()
    try:
        first = _render(member_client, hero, walk)

        def published() -> bool:
            return Asset.objects.filter(render_result__job=first).exists()

        wait_until(published, timeout=120, message="the result never reached the gallery")
        result = Asset.objects.get(render_result__job=first)
        assert result.kind == "video" and result.duration_seconds
        gallery = member_client.get(reverse("gallery:index"), {"show": "results"})
        page = gallery.content.decode()
        assert "Hero × Walk · V4 Preview, original background, normal speed" in page
        assert f'id="asset-{walk.pk}"' not in page  # only results under this filter

        # Approved: marked, then found by the filter.
        assert (
            f'id="asset-{result.pk}"'
            not in member_client.get(
                reverse("gallery:index"), {"show": "approved"}
            ).content.decode()
        )
        member_client.post(reverse("batches:result_approve", args=[result.pk]))
        approved = member_client.get(reverse("gallery:index"), {"show": "approved"})
        assert f'id="asset-{result.pk}"' in approved.content.decode()
        # Searchable by its name, taggable like any asset.
        found = member_client.get(reverse("gallery:index"), {"q": "Hero × Walk"})
        assert f'id="asset-{result.pk}"' in found.content.decode()
        member_client.post(reverse("gallery:tags", args=[result.pk]), {"tags": "client-a"})
        assert list(result.tags.values_list("name", flat=True)) == ["client-a"]

        # The result is the motion of a second render, which runs to complete.
        second = _render(member_client, hero, result)
        assert second.motion_id == result.pk
        wait_until(
            lambda: RenderJob.objects.get(pk=second.pk).status == "complete",
            timeout=120,
            message="the second render did not complete",
        )
    finally:
        worker.stop()


def test_an_asset_that_is_not_a_result_cannot_be_approved(member, other_member):
    from django.test import Client

    plain = Asset.objects.create(kind="video", name="Plain", sha256="0" * 64, uploaded_by=member)
    other = Client()
    other.force_login(other_member)
    response = other.post(reverse("batches:result_approve", args=[plain.pk]))
    assert response.status_code == 403


def test_the_same_render_twice_keeps_one_result_in_the_gallery(
    viggle_sim, member_client, hero_and_walk
):
    """Rendered again with the same inputs, the video is byte for byte the first one's: the
    gallery keeps one asset (a content is stored once) and publishing the second is not an
    error the worker retries forever."""
    from viggle_web.batches.models import Result
    from viggle_web.batches.results import result_publish

    hero, walk = hero_and_walk
    viggle_sim.set_speed(4.0)
    worker = QCluster("results-twice").start()
    try:
        first, second = _render(member_client, hero, walk), _render(member_client, hero, walk)
        wait_until(
            lambda: (
                RenderJob.objects.filter(pk__in=[first.pk, second.pk], status="complete").count()
                == 2
            ),
            timeout=120,
            message="the renders did not complete",
        )
        wait_until(
            lambda: Result.objects.filter(job__in=[first, second]).exists(),
            timeout=60,
            message="no result reached the gallery",
        )
    finally:
        worker.stop()
    for job in (first, second):
        result_publish(job_id=job.pk)  # as the worker's task does; again is harmless
    assert Result.objects.filter(job__in=[first, second]).count() == 1
    (kept,) = Result.objects.filter(job__in=[first, second])
    assert Asset.objects.filter(sha256=kept.asset.sha256).count() == 1
