"""/api/render/{id}/exports: a script asks for an export with its token; GET /api/render/{id}
lists the exports with signed links like cdn_url."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.exports.conftest import drive
from tests.gateway.conftest import Api, detail
from tests.media_factory import make_mp4, make_png
from viggle_web.exports import tasks
from viggle_web.exports.models import Export
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(member) -> Api:
    return Api(Client(), token_create(user=member, name="script").raw)


@pytest.fixture
def other_api(other_member) -> Api:
    return Api(Client(), token_create(user=other_member, name="other").raw)


def _render(api: Api, tmp_path, background: str) -> RenderJob:
    png, mp4 = make_png(tmp_path / "hero.png"), make_mp4(tmp_path / "walk.mp4", seconds=1.5)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        response = api.post(
            "/api/render", {"ref_image": ref, "driving_video": drv, "background_mode": background}
        )
    assert response.status_code == 200, response.content
    job = drive(RenderJob.objects.get(public_id=response.json()["job_id"]))
    assert job.status == "complete", job.error_message
    return job


def test_a_script_asks_for_an_export_and_downloads_it_by_its_signed_link(
    api, other_api, viggle_sim, tmp_path
):
    job = _render(api, tmp_path, "transparent")
    url = f"/api/render/{job.public_id}/exports"
    assert Client().get(f"/api/render/{job.public_id}").json()["exports"] == []

    refused = other_api.post_json(url, {"format": "webm"})  # not their render
    assert refused.status_code == 403 and detail(refused)["error_code"] == "FORBIDDEN"
    bad = api.post_json(url, {"format": "gif"})
    assert bad.status_code == 400 and "webm, mov, png" in detail(bad)["message"]

    response = api.post_json(url, {"format": "webm"})
    assert response.status_code == 202
    body = response.json()
    assert (body["format"], body["status"], body["url"]) == ("webm", "queued", None)
    assert api.post_json(url, {"format": "webm"}).json()["status"] == "queued"  # same export
    assert Export.objects.filter(job=job).count() == 1

    tasks.export_make(Export.objects.get(job=job).pk)  # the worker's task

    status = Client().get(f"/api/render/{job.public_id}").json()  # the token-free status call
    (listed,) = status["exports"]
    assert listed["status"] == "complete" and listed["content_type"] == "video/webm"
    assert listed["url"].startswith("http://testserver/api/files/")
    assert listed["frames"] == Export.objects.get().frames > 0
    (again,) = api.get(url).json()["exports"]
    # The same export; its link is signed again per call (the signature carries the time).
    assert {**again, "url": None} == {**listed, "url": None}
    assert again["url"].startswith("http://testserver/api/files/export.")

    download = Client().get(listed["url"])
    assert download.status_code == 200 and download["Content-Type"] == "video/webm"
    data = b"".join(download.streaming_content)
    assert data[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM
    assert Client().get(listed["url"][:-2] + "xx").status_code == 404


def test_an_opaque_render_has_nothing_to_export(api, viggle_sim, tmp_path):
    job = _render(api, tmp_path, "original")
    assert "exports" not in Client().get(f"/api/render/{job.public_id}").json()
    response = api.post(f"/api/render/{job.public_id}/exports", {"format": "png"})
    assert response.status_code == 400
    assert "transparent background" in detail(response)["message"]
    assert not Export.objects.exists()
