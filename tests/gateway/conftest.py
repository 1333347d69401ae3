"""Fixtures for the API tests: personal tokens and a client that sends them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.viggle_fixtures import *  # noqa: F403
from viggle_web.gateway.services import token_create


class Api:
    """The Django test client with a member's bearer token on every call."""

    def __init__(self, client: Client, raw: str | None) -> None:
        self.client = client
        self.raw = raw

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw}"} if self.raw else {}

    def get(self, path: str, data: dict[str, Any] | None = None):
        return self.client.get(path, data, headers=self._headers())

    def post(self, path: str, data: dict[str, Any] | None = None, **extra: Any):
        return self.client.post(path, data or {}, headers=self._headers(), **extra)

    def post_json(self, path: str, body: Any):
        return self.client.post(
            path, body, content_type="application/json", headers=self._headers()
        )

    def delete(self, path: str):
        return self.client.delete(path, headers=self._headers())


@pytest.fixture
def member_token(member) -> str:
    return token_create(user=member, name="script").raw


@pytest.fixture
def other_token(other_member) -> str:
    return token_create(user=other_member, name="other").raw


@pytest.fixture
def admin_token(admin_user) -> str:
    return token_create(user=admin_user, name="admin").raw


@pytest.fixture
def api(member_token) -> Api:
    return Api(Client(), member_token)


@pytest.fixture
def other_api(other_token) -> Api:
    return Api(Client(), other_token)


@pytest.fixture
def admin_api(admin_token) -> Api:
    return Api(Client(), admin_token)


@pytest.fixture
def anon_api() -> Api:
    return Api(Client(), None)


def detail(response) -> dict[str, str]:
    """The Viggle error body's detail, asserting its shape."""
    body = response.json()
    assert set(body) == {"detail"}, body
    assert set(body["detail"]) == {"error_code", "message", "action"}, body
    return body["detail"]


@pytest.fixture(autouse=True)
def _viggle_answers_at_once(settings) -> None:
    """POST /api/render sends the job to Viggle during the request. Tests that run without the
    simulator find no Viggle there: the client gives up at once instead of backing off for
    seconds (the job then waits to be sent again, as in production when Viggle is down)."""
    settings.VIGGLE_MAX_RETRIES = 0
