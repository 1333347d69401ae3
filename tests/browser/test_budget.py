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
