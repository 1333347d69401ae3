"""Bad input in the address bar (a garbage date, an unknown status or sort, a year out of range)
gives the normal, styled page with a message next to the filters: never bare text or a 500."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD = [
    ("/renders/?date_from=garbage", "Renders", "From"),
    ("/renders/?status=exploded", "Renders", "Status"),
    ("/renders/?date_from=0001-01-01", "Renders", "year"),
    ("/renders/?date_to=99999-01-01", "Renders", "To"),
    ("/renders/?member=999999", "Renders", "Member"),
    ("/renders/?date_from=2026-03-10&date_to=2026-03-01", "Renders", "before"),
    ("/renders/?page=0", "Renders", "Page"),
    ("/gallery/?sort=random", "Gallery", "Sort"),
    ("/gallery/?kind=sound", "Gallery", "Kind"),
    ("/gallery/?uploader=abc", "Gallery", "Uploader"),
    ("/gallery/?page=abc", "Gallery", "Page"),
    ("/usage/?start=2026-13-01", "Usage", "not valid"),
    ("/usage/?start=0001-01-01&end=0001-01-31", "Usage", "year"),
    ("/usage/?group=week", "Usage", "not valid"),
    ("/members/?status=zombie", "Members", "Status"),
    ("/members/?page=-4", "Members", "Page"),
    ("/members/audit/?action=party", "Audit log", "Action"),
    ("/usage/budgets/?page=xyz", "Budgets", "Page"),
]


@pytest.mark.parametrize(("path", "heading", "mentions"), BAD)
def test_a_bad_filter_url_keeps_the_page_and_says_what_was_wrong(
    page, live_server, admin_user, password, login, path, heading, mentions
):
    login("alice", password)
    response = page.goto(f"{live_server.url}{path}")
    assert response is not None and response.status == 400  # refused, but as a page
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    # The site's stylesheet and navigation are there: the normal page, not bare text.
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    message = page.locator("form.filters #filter-errors, #filter-errors")
    expect(message.first).to_be_visible()
    expect(message.first).to_contain_text(mentions)
    # The message sits with the filters, above the results (in the gallery it heads the block
    # right under the filters that the htmx refresh swaps, so a refresh shows it too).
    assert page.evaluate(
        "document.querySelector('#filter-errors').closest('form.filters') !== null"
        " || document.querySelector('form.filters + #filter-errors') !== null"
        " || document.querySelector('form.filters + * > #filter-errors:first-child') !== null"
    )


def test_filters_are_labelled_and_speak_peoples_names(
    page, live_server, admin_user, member, password, login, django_user_model
):
    member.first_name, member.last_name = "Bob", "Builder"
    member.save()
    login("alice", password)
    page.goto(f"{live_server.url}/renders/")
    member_filter = page.get_by_label("Member")
    options = member_filter.locator("option").all_inner_texts()
    assert options[0] == "Everyone"
    assert "Bob Builder" in options and "bob" not in options and "---------" not in options
    member_filter.select_option(label="Bob Builder")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(
        f"{live_server.url}/renders/?member={member.pk}&status=&date_from=&date_to="
    )
    for path in ["/renders/", "/gallery/", "/usage/", "/members/", "/members/audit/"]:
        page.goto(f"{live_server.url}{path}")
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll(
                    'form.filters select, form.filters input:not([type=hidden])')]
                .filter(el => ![...el.labels].some(l => l.innerText.trim()
                    && l.getBoundingClientRect().width > 0))
                .map(el => el.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
