"""POST /api/batches: the render's fields as lists, with the member's token; one batch, or a
refusal with nothing written."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.renders.factories import asset_row
from viggle_web.batches.models import Batch
from viggle_web.gateway.models import ApiObject
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.services import budget_set

pytestmark = pytest.mark.django_db


def _objects(member):
    characters = [
        ApiObject.objects.create(
            kind="character", asset=asset_row(owner=member, kind="image"), owner=member
        )
        for _ in range(2)
    ]
    scenes = [
        ApiObject.objects.create(
            kind="scene", asset=asset_row(owner=member, seconds=2.0), owner=member
        )
        for _ in range(3)
    ]
    return [c.public_id for c in characters], [s.public_id for s in scenes]


def _post(token: str, body: dict, key: str = "script-batch-0001"):
    return Client().post(
        "/api/batches",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def test_a_script_submits_a_2x3_batch_once(member):
    token = token_create(user=member, name="script").raw
    characters, scenes = _objects(member)
    body = {"character_ids": characters, "scene_ids": scenes, "model": "V4_Preview"}
    response = _post(token, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert len(answer["jobs"]) == 6 and answer["credits_charged"] == 12
    assert all(job["job_id"].startswith("r_") for job in answer["jobs"])
    assert RenderJob.objects.filter(source="api").count() == 6
    # The script retries with the same key: the same batch.
    assert _post(token, body).json()["batch_id"] == answer["batch_id"]
    assert Batch.objects.count() == 1


def test_an_over_budget_batch_is_refused_whole_with_viggles_error_shape(member, admin_user):
    token = token_create(user=member, name="script").raw
    characters, scenes = _objects(member)
    budget_set(actor=admin_user, user=member, monthly_cap=10)
    response = _post(token, {"character_ids": characters, "scene_ids": scenes})
    assert response.status_code == 402
    assert response.json()["detail"]["error_code"] == "BUDGET_EXCEEDED"
    assert RenderJob.objects.count() == 0 and CreditEntry.objects.count() == 0


def test_someone_elses_character_or_a_bad_list_is_refused(member, other_member):
    token = token_create(user=other_member, name="script").raw
    characters, scenes = _objects(member)
    response = _post(token, {"character_ids": characters, "scene_ids": scenes})
    assert response.status_code == 404
    assert _post(token, {"character_ids": "x", "scene_ids": []}).status_code == 400
    assert RenderJob.objects.count() == 0
