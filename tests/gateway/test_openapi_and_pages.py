"""The OpenAPI document covers every API route; the token pages work for members and admins."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from viggle_web.gateway.models import ApiToken
from viggle_web.gateway.services import token_create

pytestmark = pytest.mark.django_db


def _gateway_routes() -> list[str]:
    """The gateway's paths, and the API paths the project mounts beside it (POST /api/batches:
    batches sit above the gateway)."""
    resolver = get_resolver()
    beside = [
        "/" + str(entry.pattern)
        for entry in resolver.url_patterns
        if isinstance(entry, URLPattern) and str(entry.pattern).startswith("api/")
    ]
    for entry in resolver.url_patterns:
        if getattr(entry, "namespace", None) == "gateway":
            prefix = "/" + str(entry.pattern)
            return beside + [
                prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern))
                for p in entry.url_patterns
                if isinstance(p, URLPattern)
            ]
    raise AssertionError("no gateway namespace")


def test_the_openapi_document_lists_every_gateway_path():
    response = Client().get(reverse("gateway:openapi"))
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": "http://testserver"}]
    routes = _gateway_routes()
    assert len(routes) == 14
    assert sorted(doc["paths"]) == sorted(routes)
    # Every documented error code of Viggle's table that this API answers is listed.
    codes = doc["components"]["schemas"]["Error"]["properties"]["detail"]["properties"][
        "error_code"
    ]["enum"]
    for code in ["CS-UORC01-006", "CS-UORC01-007", "CS-UORC01-008", "CS-UORC01-002"] + [
        f"CS-ORIV-{n:03d}" for n in range(1, 13)
    ]:
        assert code in codes


def test_a_member_creates_sees_once_and_revokes_a_token(member_client, member):
    page = member_client.get(reverse("tokens:list"))
    assert page.status_code == 200 and "You have no API tokens yet" in page.content.decode()
    response = member_client.post(reverse("tokens:list"), {"name": "laptop script"})
    html = response.content.decode()
    raw = re.search(r'value="(vs_[^"]+)"', html).group(1)
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=member)
    assert token.name == "laptop script" and raw.startswith(token.prefix)
    # Shown once: the list afterwards has the prefix only.
    again = member_client.get(reverse("tokens:list")).content.decode()
    assert raw not in again and token.prefix in again
    assert (
        Client().get("/api/characters", headers={"Authorization": f"Bearer {raw}"}).status_code
        == 200
    )
    response = member_client.post(reverse("tokens:revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == member
    assert (
        Client().get("/api/characters", headers={"Authorization": f"Bearer {raw}"}).status_code
        == 401
    )


def test_a_token_needs_a_name(member_client):
    response = member_client.post(reverse("tokens:list"), {"name": "  "})
    assert response.status_code == 400  # the form again, with its error
    assert not ApiToken.objects.exists()


def test_a_member_cannot_revoke_or_list_others_tokens(member_client, other_member):
    other = token_create(user=other_member, name="theirs").token
    assert member_client.post(reverse("tokens:revoke", args=[other.pk])).status_code == 403
    other.refresh_from_db()
    assert other.revoked_at is None
    assert "theirs" not in member_client.get(reverse("tokens:list")).content.decode()
    assert member_client.get(reverse("tokens:admin")).status_code == 403


def test_an_admin_lists_and_revokes_any_token(admin_client, admin_user, member):
    token = token_create(user=member, name="bob's script").token
    html = admin_client.get(reverse("tokens:admin")).content.decode()
    assert "bob" in html and "bob&#x27;s script" in html
    response = admin_client.post(reverse("tokens:revoke", args=[token.pk]), {"next": "admin"})
    assert response["Location"] == reverse("tokens:admin")
    token.refresh_from_db()
    assert token.revoked_by == admin_user


def test_the_help_page_shows_the_example_with_this_servers_base(member_client):
    html = member_client.get(reverse("tokens:api_help")).content.decode()
    assert "BASE = &quot;http://testserver&quot;" in html
    assert (
        "files={&quot;ref_image&quot;: ref_image, &quot;driving_video&quot;: driving_video}" in html
    )
    assert reverse("gateway:openapi") in html


def test_the_user_menu_links_the_token_page(member_client):
    html = member_client.get(reverse("home")).content.decode()
    assert reverse("tokens:list") in html
