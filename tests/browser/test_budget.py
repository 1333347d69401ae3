"""Budgets in a real browser: an admin sets a member's monthly cap.

The member's side (a render over the cap refused on the render form) is added with the render
form itself."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from viggle_web.usage.models import Budget

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_sets_a_members_monthly_cap(
    page, live_server, login, admin_user, member, password
):
    login("alice", password)
    page.goto(f"{live_server.url}/members/")
    row = page.locator(f"#member-{member.pk}")
    expect(row.locator("[data-month-usage]")).to_contain_text("0 / no cap")
    row.get_by_role("link", name="Budget").click()
    page.wait_for_url("**/usage/budgets/**")

    page.get_by_label("Monthly cap for bob").fill("250")
    budget_row = page.locator(f"#budget-{member.pk}")
    budget_row.get_by_role("button", name="Save").click()
    # htmx swaps the row in place.
    expect(page.locator(f"#budget-{member.pk}").get_by_role("status")).to_have_text("Saved")
    expect(page.locator(f"#budget-{member.pk} [data-cap]")).to_have_text("250")
    assert Budget.objects.get(user=member).monthly_cap == 250

    # It stays after a reload, and the member list shows it.
    page.goto(f"{live_server.url}/members/")
    expect(page.locator(f"#member-{member.pk} [data-month-usage]")).to_contain_text("0 / 250")


def test_an_admin_sets_the_organisation_cap(page, live_server, login, admin_user, password):
    login("alice", password)
    page.goto(f"{live_server.url}/usage/budgets/")
    page.get_by_label("Organisation monthly cap").fill("5000")
    page.locator(".org-budget").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_contain_text("monthly cap is now 5000 credits")
    expect(page.locator("[data-org-cap]")).to_have_text("5000")


def test_a_members_over_cap_render_is_refused_with_the_remaining_amount(
    page, live_server, login, admin_user, member, password, tmp_path
):
    from tests.media_factory import make_mp4, make_png
    from tests.renders.factories import asset_with_file
    from viggle_web.renders.models import RenderJob

    asset_with_file(owner=member, kind="image", path=make_png(tmp_path / "c.png"), name="Hero")
    asset_with_file(
        owner=member, kind="video", path=make_mp4(tmp_path / "m.mp4", seconds=3.0), name="Jump"
    )
    # The admin caps the member at 2 credits in the browser.
    login("alice", password)
    page.goto(f"{live_server.url}/usage/budgets/")
    page.get_by_label("Monthly cap for bob").fill("2")
    page.locator(f"#budget-{member.pk}").get_by_role("button", name="Save").click()
    expect(page.locator(f"#budget-{member.pk} [data-cap]")).to_have_text("2")
    page.get_by_role("button", name="Log out").click()

    # The member's 3-second render (3 credits) is refused before anything is sent.
    login("bob", password)
    page.goto(f"{live_server.url}/renders/new/")
    page.locator("#picker-character .picker-option", has_text="Hero").click()
    page.locator("#picker-motion .picker-option", has_text="Jump").click()
    expect(page.locator("#estimate")).to_contain_text("you have 2 left this month")
    # Start is disabled, and the page says why, before anything is sent.
    start = page.get_by_role("button", name="Start render")
    expect(start).to_be_disabled()
    reason = page.locator("#start-blocked")
    expect(reason).to_contain_text("needs 3 credits")
    expect(reason).to_contain_text("2 credits are left")
    expect(start).to_have_attribute("aria-describedby", "start-blocked")
    assert RenderJob.objects.count() == 0
