"""Onboarding and members as people meet them: the set-password page names the username, a
deactivated member is told so at login, admins cannot deactivate themselves, names are editable,
links and tokens have copy buttons, and confirmations do not linger on later pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from viggle_web.accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_member_sets_a_password_from_a_copied_link_seeing_their_username(
    page, context, live_server, admin_user, password, login
):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    login("alice", password)
    page.goto(f"{live_server.url}/members/add/")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Email").fill("erin@example.com")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == page.get_by_label("Set-password link").input_value()
    assert "/members/set-password/" in link

    page.context.clear_cookies()
    page.goto(link)
    expect(page.locator("[data-username]")).to_have_text("erin")
    page.get_by_label("New password", exact=True).fill("a-long-Secret-phrase-42")
    page.get_by_label("New password confirmation").fill("a-long-Secret-phrase-42")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".notice-success")).to_contain_text("Your password is set")
    login("erin", "a-long-Secret-phrase-42")
    # The confirmation was shown once, on the login page: not on the pages after it.
    expect(page.locator(".notice")).to_have_count(0)


def test_admins_edit_names_cannot_deactivate_themselves_and_a_deactivated_login_says_so(
    page, live_server, admin_user, member, password, login
):
    login("alice", password)
    page.goto(f"{live_server.url}/members/")
    own_row = page.locator(f"#member-{admin_user.pk}")
    expect(own_row.get_by_role("button", name="Deactivate")).to_have_count(0)
    expect(own_row).to_contain_text("(you)")

    page.locator(f"#member-{member.pk}").get_by_role("link", name="Edit").click()
    page.get_by_label("First name").fill("Bob")
    page.get_by_label("Last name").fill("Builder")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice-success")).to_contain_text("bob was updated")
    expect(page.locator(f"#member-{member.pk}")).to_contain_text("Bob Builder")
    member.refresh_from_db()
    assert (member.first_name, member.last_name) == ("Bob", "Builder")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#member-{member.pk}").get_by_role("button", name="Deactivate").click()
    expect(page.locator(".notice-success")).to_contain_text("deactivated")
    page.goto(f"{live_server.url}/renders/")
    expect(page.locator(".notice")).to_have_count(0)  # not lingering on the next page
    assert not User.objects.get(pk=member.pk).is_active

    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("This account is deactivated")
    # A wrong password does not tell anyone the account exists.
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("not-the-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).not_to_contain_text("deactivated")


def test_a_new_token_has_a_copy_button(page, context, live_server, member, password, login):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    login("bob", password)
    page.goto(f"{live_server.url}/account/tokens/")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="Copy token").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    token = page.evaluate("navigator.clipboard.readText()")
    assert token.startswith("vs_") and token == page.get_by_label("New API token").input_value()
