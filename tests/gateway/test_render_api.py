"""POST/GET/DELETE /api/render: every input combination, option and error code."""

from __future__ import annotations

import json
import time

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from django.test import Client

from tests.gateway.conftest import detail
from tests.media_factory import make_mp4, make_png
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.gateway import services
from viggle_web.gateway.models import ApiObject
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import Budget, CreditEntry


@pytest.fixture
def files(tmp_path):
    return make_png(tmp_path / "hero.png"), make_mp4(tmp_path / "dance.mp4", seconds=2.0)


def post_files(api, files, extra=None, **data):
    png, mp4 = files
    with png.open("rb") as ref, mp4.open("rb") as drv:
        return api.post(
            "/api/render", {"ref_image": ref, "driving_video": drv, **data}, **(extra or {})
        )


def ready_object(*, owner, kind, asset, model="") -> ApiObject:
    resource_kind = "character" if kind == "character" else "scene"
    ViggleResource.objects.create(
        asset=asset,
        kind=resource_kind,
        model=model,
        upstream_id=f"upstream-{asset.pk}-{model}",
        status="ready",
        requested_by=owner,
    )
    return ApiObject.objects.create(kind=kind, asset=asset, model=model, name="x", owner=owner)


@pytest.fixture
def prepared(api, member, files):
    """A ready character and a ready V4 scene of the member's, made from uploads."""
    assert post_files(api, files).status_code == 200
    image = Asset.objects.get(kind="image")
    video = Asset.objects.get(kind="video")
    character = ready_object(owner=member, kind="character", asset=image)
    scene = ready_object(owner=member, kind="scene", asset=video, model="V4_Preview")
    return character, scene


# --- creating -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_uploads_become_gallery_assets_and_an_api_job_of_the_member(api, member, files):
    response = post_files(api, files)
    assert response.status_code == 200, response.content
    body = response.json()
    job = RenderJob.objects.get()
    assert body["job_id"] == job.public_id and body["status"] == "queued"
    assert body["mode"] == "full_pipeline" and body["enqueued_at"]
    assert body["status_url"] == f"/api/render/{job.public_id}"
    assert (job.owner, job.source, job.model) == (member, "api", "V4_Preview")
    assert job.character.kind == "image" and job.motion.kind == "video"
    assert job.character.uploaded_by == member
    assert CreditEntry.objects.get(job=job).credits == 2
    # The same files again: deduplicated in the gallery, a second job.
    assert post_files(api, files).status_code == 200
    assert Asset.objects.count() == 2 and RenderJob.objects.count() == 2


@pytest.mark.django_db
def test_options_are_kept(api, files):
    response = post_files(
        api, files, model="V3_Preview", background_mode="solid", bg_color="1, 2,3", fast="true"
    )
    assert response.status_code == 200, response.content
    assert response.json()["mode"] == "fast"
    job = RenderJob.objects.get()
    assert (job.model, job.background_mode, job.bg_color, job.fast) == (
        "V3_Preview",
        "solid",
        "1,2,3",
        True,
    )
    assert job.estimate_credits == 4


@pytest.mark.django_db
def test_inpaint_is_an_alias_of_original_and_bg_color_needs_solid(api, files):
    assert post_files(api, files, background_mode="inpaint", bg_color="9,9,9").status_code == 200
    job = RenderJob.objects.get()
    assert (job.background_mode, job.bg_color) == ("original", "")


@pytest.mark.django_db
def test_an_idempotency_key_returns_the_same_job(api, files):
    first = post_files(api, files, {"HTTP_IDEMPOTENCY_KEY": "abc"})
    second = post_files(api, files, {"HTTP_IDEMPOTENCY_KEY": "abc"})
    assert first.json()["job_id"] == second.json()["job_id"]
    assert RenderJob.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({}, "CS-ORIV-001"),
        ({"ref_image_url": "http://example.invalid/a.png"}, "CS-ORIV-002"),
        ({"character_id": "x"}, "CS-ORIV-002"),
        ({"scene_id": "x"}, "CS-ORIV-001"),
        ({"character_mapping": "{}"}, "CS-ORIV-002"),
        ({"scene_id": "x", "character_mapping": "{not json"}, "CS-ORIV-012"),
        ({"scene_id": "x", "character_mapping": '["a"]'}, "CS-ORIV-012"),
        ({"scene_id": "x", "character_id": "y", "ref_image_url": "http://e/a"}, "CS-UORC01-002"),
        ({"character_id": "nope", "scene_id": "nope"}, "CS-ORIV-009"),
    ],
)
def test_input_combinations_are_checked(api, data, code):
    response = api.post("/api/render", data)
    assert response.status_code == 400, response.content
    assert detail(response)["error_code"] == code
    assert not RenderJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"model": "V5"}, "CS-UORC01-002"),
        ({"background_mode": "blur"}, "CS-ORIV-011"),
        ({"background_mode": "solid", "bg_color": "#00ff00"}, "CS-UORC01-002"),
        ({"background_mode": "solid", "bg_color": "0,256,0"}, "CS-UORC01-002"),
        ({"fast": "maybe"}, "CS-UORC01-002"),
    ],
)
def test_options_are_validated(api, files, data, code):
    response = post_files(api, files, **data)
    assert response.status_code == 400
    assert detail(response)["error_code"] == code
    assert not RenderJob.objects.exists()


@pytest.mark.django_db
def test_fast_needs_an_uploaded_video_or_a_scene(api, files, media_server):
    (media_server.root / "m.mp4").write_bytes(files[1].read_bytes())
    with files[0].open("rb") as ref:
        response = api.post(
            "/api/render",
            {"ref_image": ref, "driving_video_url": media_server.url("m.mp4"), "fast": "true"},
        )
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-UORC01-002"


@pytest.mark.django_db
def test_a_file_and_its_url_together_are_refused(api, files):
    with files[0].open("rb") as ref, files[1].open("rb") as drv:
        response = api.post(
            "/api/render",
            {"ref_image": ref, "ref_image_url": "http://x/y.png", "driving_video": drv},
        )
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-UORC01-002"


@pytest.mark.django_db
def test_bad_media_get_viggles_codes(api, files, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"hello, this is not a video at all" * 10)
    with files[0].open("rb") as ref, text.open("rb") as drv:
        response = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-ORIV-003"
    # A video where the image belongs.
    with files[1].open("rb") as ref, files[1].open("rb") as drv:
        response = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-UORC01-002"
    # An image where the video belongs.
    with files[0].open("rb") as ref, files[0].open("rb") as drv:
        response = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    assert detail(response)["error_code"] == "CS-ORIV-003"


@pytest.mark.django_db
def test_a_file_over_the_limit_is_cs_oriv_005_and_not_stored(settings, api, files):
    settings.MAX_UPLOAD_BYTES = files[0].stat().st_size - 1
    response = post_files(api, files)
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-ORIV-005"
    assert not Asset.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_over_budget_is_402_and_nothing_goes_upstream(viggle_sim, api, member, files):
    Budget.objects.create(user=member, monthly_cap=1)
    response = post_files(api, files)
    assert response.status_code == 402
    body = detail(response)
    assert body["error_code"] == "BUDGET_EXCEEDED"
    assert "budget" in body["message"]
    assert not RenderJob.objects.exists() and not CreditEntry.objects.exists()
    assert viggle_sim.creates() == []


# --- preprocessed and template renders ------------------------------------------------------


@pytest.mark.django_db
def test_a_character_and_scene_render_takes_the_scenes_model(api, prepared):
    character, scene = prepared
    response = api.post(
        "/api/render", {"character_id": character.public_id, "scene_id": scene.public_id}
    )
    assert response.status_code == 200, response.content
    assert response.json()["mode"] == "preprocessed"
    job = RenderJob.objects.get(public_id=response.json()["job_id"])
    assert (job.character, job.motion, job.model) == (character.asset, scene.asset, "V4_Preview")
    conflict = api.post(
        "/api/render",
        {"character_id": character.public_id, "scene_id": scene.public_id, "model": "V3_Preview"},
    )
    assert conflict.status_code == 400
    assert detail(conflict)["error_code"] == "CS-UORC01-002"


@pytest.mark.django_db
def test_unknown_or_unready_objects_are_refused(api, prepared):
    character, scene = prepared
    response = api.post("/api/render", {"character_id": "nope", "scene_id": scene.public_id})
    assert detail(response)["error_code"] == "CS-ORIV-008"
    ViggleResource.objects.filter(kind="scene").update(status="processing")
    response = api.post(
        "/api/render", {"character_id": character.public_id, "scene_id": scene.public_id}
    )
    assert detail(response)["error_code"] == "CS-ORIV-010"


@pytest.mark.django_db
def test_another_members_objects_cannot_be_used(other_api, prepared):
    character, scene = prepared
    response = other_api.post(
        "/api/render", {"character_id": character.public_id, "scene_id": scene.public_id}
    )
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-ORIV-009"


# Template scenes with a character_mapping: tests/gateway/test_template_api.py (imported
# through the real path, never a hand-made template).


# --- status ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("pending", "queued"),
        ("queued", "queued"),
        ("processing", "processing"),
        ("finishing", "processing"),
        ("complete", "complete"),
        ("failed", "failed"),
        ("cancelled", "cancelled"),
    ],
)
def test_status_values_are_viggles(api, files, ours, theirs):
    job_id = post_files(api, files).json()["job_id"]
    RenderJob.objects.update(status=ours, progress_pct=40, checkpoint="dri_done")
    response = Client().get(f"/api/render/{job_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == theirs and body["job_id"] == job_id
    assert set(body) >= {
        "job_id",
        "status",
        "mode",
        "progress_pct",
        "checkpoint",
        "cdn_url",
        "download_url",
        "error",
        "error_code",
        "error_message",
        "created_at",
        "completed_at",
        "chunks",
        "progress",
    }
    assert body["chunks"] == [] and set(body["progress"]) == {
        "completed_chunks",
        "total_chunks",
        "percent",
    }
    if theirs == "failed":
        assert body["error_code"] and body["error_message"]
    else:
        assert body["error_code"] is None


@pytest.mark.django_db
def test_a_failed_job_tells_why(api, files):
    job_id = post_files(api, files).json()["job_id"]
    RenderJob.objects.update(
        status="failed", error_code="CS-UORC01-009", error_message="Viggle could not render"
    )
    body = Client().get(f"/api/render/{job_id}").json()
    assert (body["error"], body["error_code"]) == ("render_failed", "CS-UORC01-009")
    assert body["error_message"] == "Viggle could not render"


@pytest.mark.django_db
def test_unknown_and_web_jobs_are_404_on_the_public_status(api, files):
    response = Client().get("/api/render/r_doesnotexist")
    assert response.status_code == 404
    assert detail(response)["error_code"] == "NOT_FOUND"
    job_id = post_files(api, files).json()["job_id"]
    RenderJob.objects.update(source="web")
    assert Client().get(f"/api/render/{job_id}").status_code == 404


@pytest.mark.django_db
def test_a_complete_job_links_a_signed_expiring_copy(api, files, monkeypatch):
    job_id = post_files(api, files, background_mode="transparent").json()["job_id"]
    job = RenderJob.objects.get()
    job.output.save("output.mp4", ContentFile(files[1].read_bytes()), save=False)
    job.mask.save("mask.mp4", ContentFile(b"mask-bytes"), save=False)
    job.status, job.upstream_cdn_url = "complete", "http://upstream.example/secret.mp4"
    job.upstream_job_id = "upstream-job-1"
    job.save()
    body = Client().get(f"/api/render/{job_id}").json()
    assert body["cdn_url"] == body["download_url"]
    assert body["cdn_url"].startswith("http://testserver/api/files/")
    assert body["mask_cdn_url"].startswith("http://testserver/api/files/")
    assert "upstream" not in json.dumps(body)
    download = Client().get(body["cdn_url"])
    assert download.status_code == 200 and download["Content-Type"] == "video/mp4"
    assert b"".join(download.streaming_content) == files[1].read_bytes()
    assert b"".join(Client().get(body["mask_cdn_url"]).streaming_content) == b"mask-bytes"
    # Tampered: 404. Expired (older than an hour): 403.
    assert Client().get(body["cdn_url"][:-2] + "xx").status_code == 404
    real = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real() - 3700)
    old = services.download_sign(kind="job", ident=job_id, which="output")
    monkeypatch.setattr(signing.time, "time", real)
    expired = Client().get(f"/api/files/{old}")
    assert expired.status_code == 403
    assert detail(expired)["error_code"] == "FORBIDDEN"


# --- cancel ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_member_cancels_their_job_and_gets_the_credits_back(api, files):
    job_id = post_files(api, files).json()["job_id"]
    response = api.delete(f"/api/render/{job_id}")
    assert response.status_code == 200
    assert response.json() == {
        "job_id": job_id,
        "status": "cancelled",
        "success": True,
        "credits_refunded": 2,
    }
    job = RenderJob.objects.get()
    assert job.status == "cancelled"
    assert sum(CreditEntry.objects.filter(job=job).values_list("credits", flat=True)) == 0
    again = api.delete(f"/api/render/{job_id}")
    assert again.status_code == 400
    assert detail(again)["error_code"] == "CS-UORC01-002"


@pytest.mark.django_db
def test_another_member_cannot_cancel_but_an_admin_can(api, other_api, admin_api, files):
    job_id = post_files(api, files).json()["job_id"]
    response = other_api.delete(f"/api/render/{job_id}")
    assert response.status_code == 403
    assert detail(response)["error_code"] == "FORBIDDEN"
    assert RenderJob.objects.get().status == "pending"
    assert admin_api.delete(f"/api/render/{job_id}").status_code == 200
    assert api.delete("/api/render/r_unknown").status_code == 404


@pytest.mark.django_db
def test_url_inputs_to_internal_addresses_are_refused(settings, api, files, media_server):
    settings.ALLOW_PRIVATE_FETCH = False
    (media_server.root / "c.png").write_bytes(files[0].read_bytes())
    (media_server.root / "m.mp4").write_bytes(files[1].read_bytes())
    for host in ("127.0.0.1", "localhost"):
        response = api.post(
            "/api/render",
            {
                "ref_image_url": media_server.url("c.png").replace("127.0.0.1", host),
                "driving_video_url": media_server.url("m.mp4"),
            },
        )
        assert response.status_code == 400
        body = detail(response)
        assert body["error_code"] == "CS-UORC01-002"
        assert "private or reserved" in body["message"]
    assert not Asset.objects.exists() and not RenderJob.objects.exists()
    response = api.post(
        "/api/characters/preprocess",
        {"name": "x", "image_url": "http://169.254.169.254/latest/meta-data/"},
    )
    assert detail(response)["error_code"] == "CS-UORC01-002"
