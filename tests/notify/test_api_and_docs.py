"""Preprocessing and template imports through the API tell their webhook_url when they end
(the worker's tasks against the simulator, a real receiving server); the API document and the
README describe webhooks."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from tests.gateway.test_objects_api import poll_until_final
from tests.media_factory import make_png
from tests.notify.conftest import shown_secret
from tests.notify.test_webhooks import deliver
from viggle_web.assets import tasks as asset_tasks
from viggle_web.assets.models import ViggleResource

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.django_db(transaction=True)
def test_preprocessing_and_a_template_import_tell_their_webhook_url(
    api, member_client, viggle_sim, receiver, fast_retries, tmp_path, media_root, settings
):
    settings.SITE_URL = "http://testserver"  # absolute links in payloads, as the API's
    secret = shown_secret(member_client.post(reverse("notify:script_rotate")).content.decode())
    png = make_png(tmp_path / "hero.png")
    with png.open("rb") as fh:
        response = api.post(
            "/api/characters/preprocess",
            {"name": "Hero", "image": fh, "webhook_url": receiver.url},
        )
    assert response.status_code == 200, response.content
    character_id = response.json()["character_id"]
    response = api.post_json(
        "/api/scenes/import",
        {
            "template_id": str(uuid.uuid4()),
            "name": "Group dance",
            "webhook_url": receiver.url,
            "webhook_events": ["completed"],
        },
    )
    assert response.status_code == 200, response.content
    scene_id = response.json()["id"]
    for resource in ViggleResource.objects.filter(upstream_id=""):
        asset_tasks.resource_submit(resource.pk)
    poll_until_final()
    deliver()

    bodies = {}
    for got in receiver.received:
        body = Webhook(secret).verify(got.body, got.headers)
        assert got.headers["viggle-event"] == "completed"
        bodies[body.get("character_id") or body.get("id")] = body
    assert set(bodies) == {character_id, scene_id}
    character = api.get(f"/api/characters/{character_id}").json()
    assert set(bodies[character_id]) == set(character)
    for key, value in character.items():  # signed links differ only in their signature
        if not key.endswith("_url"):
            assert bodies[character_id][key] == value, key
    assert bodies[character_id]["status"] == "ready"
    assert bodies[scene_id]["status"] == api.get(f"/api/scenes/{scene_id}").json()["status"]
    upstream = set(ViggleResource.objects.values_list("upstream_id", flat=True))
    raw = b"".join(r.body for r in receiver.received).decode()
    assert not any(u and u in raw for u in upstream) and viggle_sim.base_url not in raw


@pytest.mark.django_db
def test_webhook_input_is_checked(api, tmp_path):
    png = make_png(tmp_path / "hero.png")
    for data, words in (
        ({"webhook_url": "ftp://example.com/x"}, "http"),
        ({"webhook_url": "http://127.0.0.1:9/x", "webhook_events": "done"}, "Unknown"),
        ({"webhook_events": "completed"}, "needs a webhook_url"),
    ):
        with png.open("rb") as fh:
            response = api.post("/api/characters/preprocess", {"name": "H", "image": fh, **data})
        assert response.status_code == 400, data
        assert words in response.json()["detail"]["message"], response.json()


@pytest.mark.django_db
def test_the_api_document_and_the_readme_describe_webhooks(client):
    document = client.get("/api/openapi.json").json()
    form = document["paths"]["/api/render"]["post"]["requestBody"]["content"]
    fields = form["multipart/form-data"]["schema"]["properties"]
    assert {"webhook_url", "webhook_events"} <= set(fields)
    for path in ("/api/characters/preprocess", "/api/scenes/preprocess"):
        body = document["paths"][path]["post"]["requestBody"]["content"]
        assert "webhook_url" in body["multipart/form-data"]["schema"]["properties"]
    hook = document["x-webhooks"]["render"]["post"]
    assert hook["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RenderStatus"
    }
    headers = {p["name"] for p in hook["parameters"]}
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers

    readme = README.read_text()
    assert "### Webhooks" in readme
    assert "verifier.verify(request.get_data(), dict(request.headers))" in readme
    assert "webhook-id" in readme and "WEBHOOK_RETRY_SCHEDULE" in readme
