"""Tokens authenticate as their member; refusals are Viggle-shaped; limits are per token."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from tests.gateway.conftest import Api, detail
from viggle_web.gateway.models import ApiToken, RateCounter
from viggle_web.gateway.services import token_create, token_revoke

pytestmark = pytest.mark.django_db

TOKEN_ENDPOINTS = [
    ("post", "/api/render"),
    ("delete", "/api/render/r_x"),
    ("get", "/api/characters"),
    ("post", "/api/characters/preprocess"),
    ("get", "/api/characters/x"),
    ("delete", "/api/characters/x"),
    ("get", "/api/scenes"),
    ("post", "/api/scenes/preprocess"),
    ("post", "/api/scenes/import"),
    ("get", "/api/scenes/x"),
    ("delete", "/api/scenes/x"),
    ("get", "/api/credits"),
]


@pytest.mark.parametrize(("method", "path"), TOKEN_ENDPOINTS)
def test_a_missing_token_is_401_cs_uorc01_006(anon_api, method, path):
    response = getattr(anon_api, method)(path)
    assert response.status_code == 401
    assert detail(response)["error_code"] == "CS-UORC01-006"


@pytest.mark.parametrize(("method", "path"), TOKEN_ENDPOINTS)
def test_an_unknown_token_is_401_cs_uorc01_007(method, path):
    response = getattr(Api(Client(), "vs_not-a-real-token"), method)(path)
    assert response.status_code == 401
    assert detail(response)["error_code"] == "CS-UORC01-007"


def test_a_non_bearer_header_counts_as_missing():
    response = Client().get("/api/characters", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert detail(response)["error_code"] == "CS-UORC01-006"


def test_a_revoked_token_is_401_cs_uorc01_007(member, api):
    assert api.get("/api/characters").status_code == 200
    token = ApiToken.objects.get(user=member)
    token_revoke(token=token, actor=member)
    response = api.get("/api/characters")
    assert response.status_code == 401
    assert detail(response)["error_code"] == "CS-UORC01-007"


def test_a_deactivated_members_tokens_stop_working(member, api):
    member.is_active = False
    member.save()
    response = api.get("/api/characters")
    assert response.status_code == 401
    assert detail(response)["error_code"] == "CS-UORC01-007"


def test_only_the_hash_is_stored_and_last_use_is_recorded(member):
    created = token_create(user=member, name="laptop")
    token = ApiToken.objects.get(pk=created.token.pk)
    assert created.raw.startswith("vs_") and len(created.raw) > 40
    assert token.token_hash == hashlib.sha256(created.raw.encode()).hexdigest()
    assert created.raw not in {token.name, token.prefix, token.token_hash}
    assert created.raw.startswith(token.prefix) and len(token.prefix) <= 10
    assert token.last_used_at is None
    assert Api(Client(), created.raw).get("/api/characters").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_acts_with_its_members_role(admin_api, api):
    # Seen through /api/characters: each token answers for its own member.
    assert admin_api.get("/api/characters").status_code == 200
    assert api.get("/api/characters").json()["total"] == 0


def test_too_many_requests_get_429_with_retry_after(settings, api, other_api):
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        assert api.get("/api/characters").status_code == 200
    response = api.get("/api/characters")
    assert response.status_code == 429
    assert detail(response)["error_code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 60
    # The count lives in the database (shared by every web process), per member.
    assert RateCounter.objects.get(key__startswith="member:").count == 3
    assert other_api.get("/api/characters").status_code == 200


def test_the_status_endpoint_is_limited_per_address(settings, anon_api):
    settings.GATEWAY_PUBLIC_RATE_LIMIT_PER_MINUTE = 2
    assert anon_api.get("/api/render/r_unknown").status_code == 404
    assert anon_api.get("/api/render/r_unknown").status_code == 404
    response = anon_api.get("/api/render/r_unknown")
    assert response.status_code == 429 and response["Retry-After"]
    assert RateCounter.objects.get(key="ip:127.0.0.1").count == 2


def test_a_wrong_method_is_405_with_allow(api):
    response = api.client.put("/api/render", headers={"Authorization": f"Bearer {api.raw}"})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert detail(response)["error_code"] == "METHOD_NOT_ALLOWED"


def test_a_malformed_multipart_body_is_400_not_500(api):
    response = api.client.post(
        "/api/render",
        data=b"--nope\r\ngarbage",
        content_type="multipart/form-data",  # no boundary
        headers={"Authorization": f"Bearer {api.raw}"},
    )
    assert response.status_code == 400
    assert detail(response)["error_code"] == "CS-UORC01-002"
