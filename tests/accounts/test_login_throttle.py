"""Password guessing is throttled: after the limit, even the right password is refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _try(client: Client, password: str):
    return client.post(reverse("login"), {"username": "bob", "password": password})


def test_repeated_wrong_passwords_lock_the_login(member, password, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _try(client, "wrong-guess")
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session
    locked = _try(client, "wrong-guess")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # The right password no longer helps while the lock lasts.
    after = _try(client, password)
    assert after.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_successful_login_resets_the_count(member, password, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _try(client, "wrong-guess")
    assert _try(client, password).status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _try(client, "wrong-guess").status_code == 200


def test_pages_carry_a_content_security_policy_without_inline_script(member_client):
    response = member_client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    script = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert "frame-ancestors 'none'" in policy
    assert "<script>" not in response.content.decode()
