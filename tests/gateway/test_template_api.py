"""Multi-character renders through /api/ as a script makes them, with a personal token: prepare
characters, import a template, poll the scene until Viggle has it, render with a
character_mapping (or the old field name ``characters``), poll the job, download the video. A
real qcluster worker does the background work against the simulator."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from django.db.models import Sum

from tests.media_factory import make_png
from tests.workers import QCluster
from viggle_web.gateway.models import ApiObject
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(viggle_sim):
    cluster = QCluster("templates").start()
    yield cluster
    cluster.stop()


@pytest.fixture
def script(live_server, member):
    raw = token_create(user=member, name="group-renders").raw
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {raw}"}, timeout=60
    ) as http:
        yield http


def poll(http: httpx.Client, path: str, done: tuple[str, ...], timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = http.get(path).json()
        if body.get("status") in done:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.3)


def character(http: httpx.Client, path: Path, name: str) -> str:
    with path.open("rb") as fh:
        response = http.post("/api/characters/preprocess", data={"name": name}, files={"image": fh})
    assert response.status_code == 200, response.text
    ident = response.json()["character_id"]
    assert poll(http, f"/api/characters/{ident}", ("ready", "failed"))["status"] == "ready"
    return ident


def imported_template(http: httpx.Client, sim: Any) -> dict:
    sim.set(template_people=2)
    link = f"https://viggle.ai/template/{uuid.uuid4()}"
    response = http.post("/api/scenes/import", json={"template_id": link, "name": "Group"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "pending" and body["credits_reserved"] == 15
    assert len(body["segments"]) == 2
    scene = poll(http, f"/api/scenes/{body['id']}", ("ready", "failed"))
    assert scene["status"] == "ready", scene
    return {**body, "scene": scene}


def test_a_script_imports_a_template_and_renders_two_characters_into_it(
    live_server, viggle_sim, worker, script, member, tmp_path
):
    alice = character(script, make_png(tmp_path / "alice.png"), "Alice")
    bob = character(script, make_png(tmp_path / "bob.png", size=(200, 240)), "Bob")
    template = imported_template(script, viggle_sim)
    scene = template["scene"]
    # GET /api/scenes/{id} of a template returns its fields, as Viggle reported them.
    assert scene["duration_seconds"] == pytest.approx(3.0)
    assert (scene["fps"], scene["total_frames"], scene["width"], scene["height"]) == (
        12.0,
        36,
        320,
        240,
    )
    assert scene["segments"] == template["segments"] and scene["credits_used"] == 15
    first, second = (s["uuid"] for s in template["segments"])

    mapping = json.dumps({first: alice, second: bob})
    created = script.post(
        "/api/render", data={"scene_id": template["id"], "character_mapping": mapping}
    )
    assert created.status_code == 200, created.text
    assert created.json()["mode"] == "preprocessed"
    assert created.json()["credits_charged"] == 3  # the template's real length
    job_id = created.json()["job_id"]
    status = poll(httpx.Client(base_url=live_server.url), f"/api/render/{job_id}", ("complete",))

    video = tmp_path / "group.mp4"
    video.write_bytes(httpx.get(status["cdn_url"], timeout=60).content)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert abs(float(stream.duration * stream.time_base) - 3.0) < 0.3

    # Upstream got both people, mapped to the characters' Viggle ids.
    job = RenderJob.objects.get(public_id=job_id)
    assert job.owner == member and job.source == "api" and job.status == "complete"
    assert set(job.character_mapping) == {first, second}
    # Booked to the member: the import under its own kind, the render settled at 3 s.
    kinds: dict[str, int] = {}
    for kind, credits in CreditEntry.objects.filter(user=member).values_list("kind", "credits"):
        kinds[kind] = kinds.get(kind, 0) + credits
    assert (kinds["character"], kinds["template"]) == (2, 15)
    assert kinds["reserve"] + kinds["settle"] == 3
    assert CreditEntry.objects.filter(user=member).aggregate(t=Sum("credits"))["t"] == 20
    assert job.upstream_job_id not in json.dumps(status)


def test_the_old_characters_field_name_still_works(
    live_server, viggle_sim, worker, script, member, tmp_path
):
    alice = character(script, make_png(tmp_path / "alice.png"), "Alice")
    template = imported_template(script, viggle_sim)
    first = template["segments"][0]["uuid"]
    created = script.post(
        "/api/render",
        data={"scene_id": template["id"], "characters": json.dumps({first: alice})},
    )
    assert created.status_code == 200, created.text
    job = RenderJob.objects.get(public_id=created.json()["job_id"])
    alice_asset = ApiObject.objects.get(public_id=alice).asset_id
    assert job.character_mapping == {first: str(alice_asset)}
    status = poll(
        httpx.Client(base_url=live_server.url), f"/api/render/{job.public_id}", ("complete",)
    )
    assert status["cdn_url"]


def test_a_mapping_is_checked_before_anything_is_sent(
    live_server, viggle_sim, worker, script, tmp_path
):
    alice = character(script, make_png(tmp_path / "alice.png"), "Alice")
    template = imported_template(script, viggle_sim)
    first = template["segments"][0]["uuid"]
    cases = [
        ({"person_nobody": alice}, "CS-ORIV-012"),
        ({first: "no-such-character"}, "CS-ORIV-008"),
    ]
    for mapping, code in cases:
        response = script.post(
            "/api/render",
            data={"scene_id": template["id"], "character_mapping": json.dumps(mapping)},
        )
        assert response.status_code == 400
        assert response.json()["detail"]["error_code"] == code
    bad = script.post(
        "/api/render", data={"scene_id": template["id"], "character_mapping": "{not json"}
    )
    assert bad.json()["detail"]["error_code"] == "CS-ORIV-012"
    assert viggle_sim.creates() == [] and not RenderJob.objects.exists()
