"""Preprocessing against the simulator over real HTTP: characters, scenes, template imports."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.assets.media import make_video
from tests.media_factory import make_png
from viggle_web.assets import services, tasks
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.usage.models import Budget, CreditEntry


def upload(client, path) -> Asset:
    with path.open("rb") as fh:
        response = client.post(
            reverse("gallery:upload"), {"file": fh}, HTTP_X_REQUESTED_WITH="XMLHttpRequest"
        )
    assert response.status_code == 201, response.content
    return Asset.objects.get(pk=response.json()["asset_id"])


def poll_until_final(*, timeout: float = 20.0) -> None:
    """Run the worker's poll step, skipping the 5 s waits (the simulator runs 20x faster)."""
    deadline = time.monotonic() + timeout
    while ViggleResource.objects.filter(status__in=services.ACTIVE).exists():
        assert time.monotonic() < deadline, list(ViggleResource.objects.values())
        ViggleResource.objects.filter(status__in=services.ACTIVE).update(
            next_poll_at=timezone.now()
        )
        services.resource_poll_due()
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_character_and_a_scene_become_ready_and_the_credit_is_booked(
    viggle_sim, media_root, client, member, other_member, tmp_path
):
    client.force_login(member)
    image = upload(client, make_png(tmp_path / "hero.png"))
    video = upload(client, make_video(tmp_path / "walk.mp4"))
    # Another member asks for the character: the credit is theirs, not the uploader's.
    client.force_login(other_member)

    response = client.post(reverse("gallery:preprocess", args=[image.pk]))
    assert response.status_code == 302
    response = client.post(reverse("gallery:preprocess", args=[video.pk]), {"model": "V3_Preview"})
    assert response.status_code == 302

    character = ViggleResource.objects.get(asset=image)
    scene = ViggleResource.objects.get(asset=video)
    assert (character.kind, character.model, character.status) == ("character", "", "pending")
    assert (scene.kind, scene.model) == ("scene", "V3_Preview")
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.user, entry.credits) == ("character", other_member, 1)
    assert entry.subject == f"character:{image.pk}"

    tasks.resource_submit(character.pk)
    tasks.resource_submit(scene.pk)
    assert len(viggle_sim.calls("POST", "/api/characters/preprocess")) == 1
    assert len(viggle_sim.calls("POST", "/api/scenes/preprocess")) == 1
    poll_until_final()

    character.refresh_from_db()
    scene.refresh_from_db()
    assert character.status == scene.status == "ready"
    assert character.upstream_id and scene.upstream_id
    image = Asset.objects.prefetch_related("viggle_resources").get(pk=image.pk)
    video = Asset.objects.prefetch_related("viggle_resources").get(pk=video.pk)
    assert image.character_id() == character.upstream_id
    assert video.scene_id("V3_Preview") == scene.upstream_id
    assert video.scene_id("V4_Preview") is None

    # Pages show the state, never the upstream ids.
    for asset, resource in ((image, character), (video, scene)):
        html = client.get(reverse("gallery:detail", args=[asset.pk])).content.decode()
        assert "Ready" in html
        assert resource.upstream_id not in html
        card = client.get(reverse("gallery:card", args=[asset.pk])).content.decode()
        assert resource.upstream_id not in card
        assert "every 3s" not in card  # final: the card stops polling
    # Credits in the renders' one vocabulary: the character's credit charged; the scene is
    # free and shows no credit figure at all.
    character_page = client.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert '<span class="credits" data-credits="charged">1 credit charged</span>' in character_page
    scene_page = client.get(reverse("gallery:detail", args=[video.pk])).content.decode()
    resources = scene_page.split('id="asset-resources"')[1].split("</div>")[0]
    assert "Scene for V3: <strong>Ready</strong>" in resources
    assert "credit" not in resources and "data-credits" not in resources

    # Asking again returns the ready character without a second credit or upstream call.
    client.post(reverse("gallery:preprocess", args=[image.pk]))
    assert CreditEntry.objects.count() == 1
    assert ViggleResource.objects.count() == 2


@pytest.mark.django_db
def test_a_character_over_budget_is_refused_before_anything_happens(
    member_client, member, media_root, tmp_path, django_capture_on_commit_callbacks
):
    image = upload(member_client, make_png(tmp_path / "hero.png"))
    Budget.objects.create(user=member, monthly_cap=0)

    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post(
            reverse("gallery:preprocess", args=[image.pk]), HTTP_HX_REQUEST="true"
        )

    assert response.status_code == 400
    assert "budget" in response.content.decode()
    assert not ViggleResource.objects.exists()
    assert not CreditEntry.objects.exists()
    assert callbacks == []


@pytest.mark.django_db
def test_the_card_polls_while_preparing(member_client, member, media_root, tmp_path):
    image = upload(member_client, make_png(tmp_path / "hero.png"))
    ViggleResource.objects.create(asset=image, kind="character", requested_by=member)
    card = member_client.get(reverse("gallery:card", args=[image.pk])).content.decode()
    assert 'hx-trigger="every 3s"' in card
    assert "Character: Waiting" in card


@pytest.mark.django_db(transaction=True)
def test_an_upstream_failure_shows_a_human_message(
    viggle_sim, media_root, client, member, settings, tmp_path
):
    settings.VIGGLE_MAX_RETRIES = 0
    client.force_login(member)
    image = upload(client, make_png(tmp_path / "hero.png"))
    client.post(reverse("gallery:preprocess", args=[image.pk]))
    viggle_sim.fault("503", count=None, path_prefix="/api/characters")

    tasks.resource_submit(ViggleResource.objects.get().pk)

    resource = ViggleResource.objects.get()
    assert resource.status == "failed"
    assert resource.error_message == "Viggle had an internal problem. Try again in a moment."
    html = client.get(reverse("gallery:detail", args=[image.pk])).content.decode()
    assert resource.error_message in html


@pytest.mark.django_db(transaction=True)
def test_two_pollers_never_poll_the_same_resource(
    viggle_sim, media_root, client, member, tmp_path, settings
):
    # Viggle's own 5 s interval: a resource polled by one poller is not due again while the
    # other one claims, however slowly the threads run on a busy machine.
    settings.VIGGLE_PREPROCESS_POLL_SECONDS = 5
    client.force_login(member)
    for index in range(3):
        image = upload(client, make_png(tmp_path / f"hero{index}.png", size=(200 + index, 200)))
        client.post(reverse("gallery:preprocess", args=[image.pk]))
    for resource in ViggleResource.objects.all():
        tasks.resource_submit(resource.pk)
    ViggleResource.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
    counts: list[int] = []
    start = threading.Barrier(2)
    began = timezone.now()

    def poller(name: str) -> None:
        try:
            start.wait()
            counts.append(services.resource_poll_due(owner=name))
        finally:
            connection.close()

    threads = [threading.Thread(target=poller, args=(f"poller-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 3
    gets = [c["path"] for c in viggle_sim.calls("GET", "/api/characters/")]
    assert len(gets) == 3 and len(set(gets)) == 3
    # Every polled resource is due again one interval later, and nobody holds it.
    for resource in ViggleResource.objects.exclude(status="ready"):
        assert resource.lease_until is None and resource.lease_owner == ""
        assert resource.next_poll_at >= began + timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
def test_the_poller_follows_a_character_until_it_is_ready(
    viggle_sim, media_root, client, member, tmp_path
):
    from viggle_web.renders import poller

    client.force_login(member)
    image = upload(client, make_png(tmp_path / "hero.png"))
    client.post(reverse("gallery:preprocess", args=[image.pk]))
    tasks.resource_submit(ViggleResource.objects.get().pk)
    stop = threading.Event()
    loop = threading.Thread(target=poller.run_loop, kwargs={"seconds": 20, "stop": stop})
    loop.start()
    try:
        deadline = time.monotonic() + 20
        while ViggleResource.objects.get().status != "ready":
            assert time.monotonic() < deadline, ViggleResource.objects.values().get()
            time.sleep(0.2)
    finally:
        stop.set()
        loop.join()
    assert len(viggle_sim.calls("GET", "/api/characters/")) >= 1


@pytest.mark.django_db(transaction=True)
def test_a_template_import_lists_its_people_and_its_scene_gets_ready(
    viggle_sim, media_root, client, member
):
    viggle_sim.set(template_people=2)
    client.force_login(member)
    template_id = str(uuid.uuid4())

    response = client.post(
        reverse("gallery:import"), {"template_id": template_id, "name": "Group dance"}
    )

    asset = Asset.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:detail", args=[asset.pk])
    assert (asset.kind, asset.name, asset.template_id) == ("template", "Group dance", template_id)
    assert len(asset.segments) == 2
    resource = ViggleResource.objects.get()
    assert (resource.kind, resource.model, resource.status) == ("scene", "", "pending")
    assert resource.upstream_id
    # What Viggle reserved for the import is booked to the member who imported it.
    from viggle_web.usage.models import CreditEntry

    entry = CreditEntry.objects.get(kind="template")
    assert (entry.user, entry.credits) == (member, 15)

    poll_until_final()
    resource.refresh_from_db()
    assert resource.status == "ready"
    html = client.get(reverse("gallery:detail", args=[asset.pk])).content.decode()
    assert asset.segments[0]["uuid"] in html
    assert resource.upstream_id not in html
    # Importing it again finds the same asset.
    client.post(reverse("gallery:import"), {"template_id": template_id, "name": "Again"})
    assert Asset.objects.count() == 1


@pytest.mark.django_db
def test_a_template_id_must_be_a_uuid(member_client):
    response = member_client.post(
        reverse("gallery:import"), {"template_id": "not-a-uuid", "name": "x"}
    )
    assert response.status_code == 400
    assert not Asset.objects.exists()


@pytest.mark.django_db
def test_the_detail_page_polls_its_resources_fragment(member_client, member, media_root, tmp_path):
    image = upload(member_client, make_png(tmp_path / "hero.png"))
    ViggleResource.objects.create(
        asset=image, kind="character", requested_by=member, status="processing", upstream_id="u1"
    )
    fragment = member_client.get(reverse("gallery:detail", args=[image.pk]), HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert html.strip().startswith('<div id="asset-resources"')
    assert 'hx-trigger="every 3s"' in html and "Preprocessing" in html
    assert "u1" not in html
    ViggleResource.objects.update(status="failed", error_message="Viggle could not do it.")
    html = member_client.get(
        reverse("gallery:detail", args=[image.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "every 3s" not in html and "Viggle could not do it." in html
