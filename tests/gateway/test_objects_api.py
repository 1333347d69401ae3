"""Characters, scenes, template imports and credits through the API."""

from __future__ import annotations

import time
import uuid

import pytest
from django.utils import timezone

from tests.gateway.conftest import detail
from tests.media_factory import make_mp4, make_png
from viggle_web.assets import services as asset_services
from viggle_web.assets import tasks as asset_tasks
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.gateway.models import ApiObject
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import Budget, CreditEntry
from viggle_web.usage.services import credit_charge_character


@pytest.fixture
def png(tmp_path):
    return make_png(tmp_path / "hero.png")


@pytest.fixture
def mp4(tmp_path):
    return make_mp4(tmp_path / "walk.mp4", seconds=1.0)


def make_character(api, png, name="Hero"):
    with png.open("rb") as fh:
        return api.post("/api/characters/preprocess", {"name": name, "image": fh})


def make_scene(api, mp4, **data):
    with mp4.open("rb") as fh:
        return api.post("/api/scenes/preprocess", {"name": "Walk", "video": fh, **data})


def poll_until_final(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while ViggleResource.objects.filter(status__in=asset_services.ACTIVE).exists():
        assert time.monotonic() < deadline
        ViggleResource.objects.filter(status__in=asset_services.ACTIVE).update(
            next_poll_at=timezone.now()
        )
        asset_services.resource_poll_due()
        time.sleep(0.1)


@pytest.mark.django_db
def test_a_character_is_a_gallery_asset_booked_to_the_member(api, member, png):
    response = make_character(api, png)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "pending" and body["job_id"].startswith("char_")
    obj = ApiObject.objects.get()
    assert body["character_id"] == obj.public_id and obj.owner == member
    assert obj.asset.kind == "image" and obj.asset.uploaded_by == member
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.user, entry.credits) == ("character", member, 1)

    got = api.get(f"/api/characters/{obj.public_id}").json()
    assert got["id"] == obj.public_id and got["name"] == "Hero"
    assert got["status"] == "pending" and got["credits_used"] == 1
    assert set(got) == {
        "id",
        "name",
        "status",
        "job_id",
        "error",
        "error_message",
        "thumbnail_url",
        "credits_used",
        "created_at",
        "completed_at",
    }
    assert got["thumbnail_url"].startswith("http://testserver/api/files/")
    listing = api.get("/api/characters").json()
    assert listing["total"] == 1 and listing["characters"][0]["id"] == obj.public_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [({"image_url": "http://x/y.png"}, "CS-UORC01-002"), ({"name": "Hero"}, "CS-ORIV-001")],
)
def test_character_input_is_checked(api, data, code):
    response = api.post("/api/characters/preprocess", data)
    assert response.status_code == 400
    assert detail(response)["error_code"] == code


@pytest.mark.django_db
def test_a_character_over_budget_is_402(api, member, png):
    Budget.objects.create(user=member, monthly_cap=0)
    response = make_character(api, png)
    assert response.status_code == 402
    assert detail(response)["error_code"] == "BUDGET_EXCEEDED"
    assert not ApiObject.objects.exists() and not ViggleResource.objects.exists()


@pytest.mark.django_db
def test_a_scene_is_bound_to_its_model(api, member, mp4):
    response = make_scene(api, mp4, model="V3_Preview", background_mode="inpaint")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["job_id"].startswith("scene_") and body["status"] == "pending"
    got = api.get(f"/api/scenes/{body['scene_id']}").json()
    assert got["model"] == "V3_Preview" and got["status"] == "pending"
    assert got["width"] == 160 and got["height"] == 120 and got["total_frames"] == 12
    assert got["credits_used"] == 0
    resource = ViggleResource.objects.get()
    assert (resource.kind, resource.model) == ("scene", "V3_Preview")
    assert not CreditEntry.objects.exists()  # scenes are free
    assert api.get("/api/scenes").json()["total"] == 1


@pytest.mark.django_db
def test_scene_input_is_checked(api, mp4, png):
    assert detail(make_scene(api, mp4, background_mode="blur"))["error_code"] == "CS-ORIV-011"
    assert detail(make_scene(api, mp4, model="V9"))["error_code"] == "CS-UORC01-002"
    response = api.post("/api/scenes/preprocess", {"name": "x"})
    assert detail(response)["error_code"] == "CS-ORIV-002"
    with png.open("rb") as fh:
        response = api.post("/api/scenes/preprocess", {"name": "x", "video": fh})
    assert detail(response)["error_code"] == "CS-ORIV-003"
    with mp4.open("rb") as fh:
        response = api.post("/api/scenes/preprocess", {"video": fh})
    assert detail(response)["error_code"] == "CS-UORC01-002"


@pytest.mark.django_db
def test_members_see_and_delete_only_their_own_objects(api, other_api, admin_api, png, mp4):
    character = make_character(api, png).json()["character_id"]
    scene = make_scene(api, mp4).json()["scene_id"]
    # Another member: nothing listed, nothing found, nothing deleted.
    assert other_api.get("/api/characters").json() == {"characters": [], "total": 0}
    assert other_api.get("/api/scenes").json() == {"scenes": [], "total": 0}
    for path, code in (
        (f"/api/characters/{character}", "CS-ORIV-008"),
        (f"/api/scenes/{scene}", "CS-ORIV-009"),
    ):
        for response in (other_api.get(path), other_api.delete(path)):
            assert response.status_code == 404
            assert detail(response)["error_code"] == code
    assert ApiObject.objects.count() == 2
    # An admin sees everyone's.
    assert admin_api.get("/api/characters").json()["total"] == 1
    # The owner deletes: the id is gone, the gallery asset stays.
    assert api.delete(f"/api/characters/{character}").json() == {"success": True}
    assert api.delete(f"/api/scenes/{scene}").json() == {"success": True}
    assert api.get(f"/api/characters/{character}").status_code == 404
    assert Asset.objects.count() == 2


@pytest.mark.django_db
def test_lists_page(api, png, tmp_path):
    for index in range(3):
        make_character(api, make_png(tmp_path / f"c{index}.png", size=(100 + index, 100)))
    page = api.get("/api/characters", {"limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and len(page["characters"]) == 2
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        response = api.get("/api/characters", bad)
        assert response.status_code == 400
        assert detail(response)["error_code"] == "CS-UORC01-002"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1]",
        {"template_id": "nope", "name": "x"},
        {"template_id": str(uuid.UUID(int=1))},
    ],
)
def test_template_import_input_is_checked(api, body):
    if isinstance(body, str):
        response = api.client.post(
            "/api/scenes/import",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.raw}"},
        )
    else:
        response = api.post_json("/api/scenes/import", body)
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-UORC01-002"


@pytest.mark.django_db
def test_credits_are_the_members_budget(api, member):
    Budget.objects.create(user=member, monthly_cap=10)
    for n in range(3):  # three characters made, 1 credit each, booked as the services do
        credit_charge_character(user=member, subject=f"character:test-{n}")
    body = api.get("/api/credits").json()
    assert (body["balance"], body["total_used"]) == (7, 3)
    assert body["balance_source"] == "member_budget"
    assert body["monthly_cap"] == 10 and body["resets_at"]


@pytest.mark.django_db(transaction=True)
def test_preprocessed_objects_render_end_to_end(viggle_sim, api, png, mp4):
    """Character and scene through the API, prepared by the worker's tasks against the
    simulator, then a render by their ids; upstream ids never appear in answers."""
    character = make_character(api, png).json()["character_id"]
    scene = make_scene(api, mp4).json()["scene_id"]
    for resource in ViggleResource.objects.all():
        asset_tasks.resource_submit(resource.pk)
    poll_until_final()
    got_character = api.get(f"/api/characters/{character}").json()
    got_scene = api.get(f"/api/scenes/{scene}").json()
    assert got_character["status"] == got_scene["status"] == "ready"
    assert got_character["completed_at"]
    upstream = set(ViggleResource.objects.values_list("upstream_id", flat=True))
    assert not any(u in str(got_character) + str(got_scene) for u in upstream)
    response = api.post("/api/render", {"character_id": character, "scene_id": scene})
    assert response.status_code == 200, response.content
    assert response.json()["mode"] == "preprocessed"
    assert RenderJob.objects.get().source == "api"


@pytest.mark.django_db(transaction=True)
def test_a_template_import_lists_its_people(viggle_sim, api, member):
    viggle_sim.set(template_people=2)
    response = api.post_json(
        "/api/scenes/import", {"template_id": str(uuid.uuid4()), "name": "Group dance"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["segments"]) == 2 and body["segments"][0]["uuid"].startswith("person_")
    assert body["status"] == "pending" and body["credits_reserved"] == 15
    obj = ApiObject.objects.get(public_id=body["id"])
    assert obj.asset.kind == "template" and obj.model == ""
    got = api.get(f"/api/scenes/{body['id']}").json()
    assert got["segments"] == body["segments"] and got["model"] is None
    assert ViggleResource.objects.get().upstream_id not in str(body)
