from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_home_shows_navigation_for_an_admin(admin_client):
    body = admin_client.get(reverse("home")).content.decode()
    assert "Members" in body and "Log out" in body and "alice" in body


def test_home_hides_members_link_from_a_member(member_client, admin_client):
    link = f'href="{reverse("members:list")}"'
    assert link in admin_client.get(reverse("home")).content.decode()
    response = member_client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    # The same page, navigation and all, for the member: only the admin's link is missing.
    assert "bob" in body and "Log out" in body and reverse("renders:list") in body
    assert link not in body
    assert member_client.get(reverse("members:list")).status_code == 403


def test_htmx_requests_carry_the_csrf_token(member_client):
    body = member_client.get(reverse("home")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    assert "django_htmx/htmx-2.min.js" in body and "hx-sse-2" in body


def test_404_page_is_styled(member_client, settings):
    settings.DEBUG = False
    response = member_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_logout_needs_post(member_client):
    assert member_client.get(reverse("logout")).status_code == 405
    assert member_client.post(reverse("logout")).status_code == 302


def test_healthz_is_public(client):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}
