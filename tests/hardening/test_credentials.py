"""Credentials do not outlive what an admin decides, and tokens do not multiply limits
(issue 14, points 5 and 6)."""

from __future__ import annotations

import pytest
from django.test import Client

from viggle_web.gateway.models import ApiToken

pytestmark = pytest.mark.django_db


def _token(client: Client, name: str) -> str | None:
    """Create a token on the tokens page, as a member does; the raw token shown once."""
    response = client.post("/account/tokens/", {"name": name})
    created = response.context.get("created") if response.context else None
    return created.raw if created else None


def _api(raw: str) -> int:
    return Client().get("/api/characters", headers={"Authorization": f"Bearer {raw}"}).status_code


def test_reactivation_does_not_revive_old_sessions_or_tokens(
    admin_client, member, member_client, password
) -> None:
    raw = _token(member_client, "laptop")
    assert raw and _api(raw) == 200
    assert member_client.get("/renders/").status_code == 200

    admin_client.post(f"/members/{member.pk}/active/", {"active": "0"})
    admin_client.post(f"/members/{member.pk}/active/", {"active": "1"})
    member.refresh_from_db()
    assert member.is_active

    # The session the member held before is over: the page sends them to log in again.
    response = member_client.get("/renders/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    # The token made before is revoked for good, and says so on the admin's list.
    assert _api(raw) == 401
    token = ApiToken.objects.get(user=member)
    assert token.revoked_at is not None
    # Logging in again and making a new token works.
    fresh = Client()
    login = fresh.post("/login/", {"username": member.username, "password": password})
    assert login.status_code == 302
    assert fresh.get("/renders/").status_code == 200
    new_raw = _token(fresh, "new laptop")
    assert new_raw and _api(new_raw) == 200


def test_a_member_cannot_make_more_tokens_than_the_cap(settings, member, member_client) -> None:
    settings.GATEWAY_TOKENS_PER_MEMBER = 2
    assert _token(member_client, "one") and _token(member_client, "two")
    response = member_client.post("/account/tokens/", {"name": "three"})
    assert response.status_code == 400
    assert "at most 2" in response.content.decode()
    assert ApiToken.objects.filter(user=member).count() == 2
    # Revoking one makes room again.
    first = ApiToken.objects.filter(user=member).first()
    member_client.post(f"/account/tokens/{first.pk}/revoke/")
    assert _token(member_client, "three")


def test_the_rate_limit_is_per_member_not_per_token(
    settings, member, member_client, other_member
) -> None:
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 3
    first, second = _token(member_client, "one"), _token(member_client, "two")
    assert [_api(first), _api(first), _api(second)] == [200, 200, 200]
    assert _api(second) == 429
    assert _api(first) == 429
    # Another member has a limit of their own.
    other = Client()
    other.force_login(other_member)
    assert _api(_token(other, "theirs")) == 200
