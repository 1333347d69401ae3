from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_through_the_real_page_shows_navigation(page, live_server, admin_user, password):
    page.goto(f"{live_server.url}/members/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # Back on the page asked for, signed in: it lists the members, the admin among them.
    page.wait_for_url(f"{live_server.url}/members/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    expect(page.get_by_role("table").get_by_text("alice@example.com")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Members")).to_be_visible()
    # The session is the browser's: another page opens without asking again.
    page.goto(f"{live_server.url}/usage/")
    assert page.url == f"{live_server.url}/usage/"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    # Logged out means logged out: the members page asks for a login again.
    page.goto(f"{live_server.url}/members/")
    assert page.url == f"{live_server.url}/login/?next=/members/"


def test_a_wrong_password_shows_a_message(page, live_server, admin_user):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
    assert page.url == f"{live_server.url}/login/"
    # Nothing was signed in.
    page.goto(f"{live_server.url}/members/")
    assert page.url.startswith(f"{live_server.url}/login/")
