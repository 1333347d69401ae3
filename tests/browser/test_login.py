from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_through_the_real_page_shows_navigation(page, live_server, admin_user, password):
    page.goto(f"{live_server.url}/members/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/members/")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Members").is_visible()
    assert page.get_by_text("alice").first.is_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login/")


def test_a_wrong_password_shows_a_message(page, live_server, admin_user):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible()
