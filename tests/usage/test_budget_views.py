"""Budget pages: admins set caps (plain POST or htmx row swap), members are refused, the member
list shows this month's spend against the cap."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from viggle_web.usage.models import Budget, OrgBudget

pytestmark = pytest.mark.django_db

BUDGETS = reverse("usage:budgets")
ORG = reverse("usage:org_budget_set")


def _set(member) -> str:
    return reverse("usage:budget_set", args=[member.pk])


def test_the_budgets_page_is_for_admins_only(admin_client, member):
    assert admin_client.get(BUDGETS).status_code == 200
    member_client = Client()
    member_client.force_login(member)
    assert member_client.get(BUDGETS).status_code == 403


def test_an_admin_sets_a_members_cap(admin_client, member):
    response = admin_client.post(_set(member), {"monthly_cap": "150"})
    assert response.status_code == 302
    assert Budget.objects.get(user=member).monthly_cap == 150
    page = admin_client.get(response["Location"])
    assert "bob&#x27;s monthly cap is now 150 credits." in page.content.decode()


def test_an_empty_cap_means_no_limit(admin_client, member):
    admin_client.post(_set(member), {"monthly_cap": "150"})
    admin_client.post(_set(member), {"monthly_cap": ""})
    assert Budget.objects.get(user=member).monthly_cap is None


def test_htmx_swaps_the_members_row(admin_client, member, book):
    book(member, 30, when=timezone.now())
    response = admin_client.post(
        _set(member), {"monthly_cap": "40"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="budget-{member.pk}"')
    assert "<html" not in html
    assert "Saved" in html
    assert "<span data-spent>30</span>" in html and "<span data-cap>40</span>" in html


@pytest.mark.parametrize("value", ["-1", "abc", "1.5"])
def test_an_invalid_cap_is_refused(admin_client, member, value):
    response = admin_client.post(_set(member), {"monthly_cap": value})
    assert response.status_code == 400
    assert not Budget.objects.filter(user=member).exists()
    assert b"field-error" in response.content
    htmx = admin_client.post(_set(member), {"monthly_cap": value}, headers={"HX-Request": "true"})
    assert b"field-error" in htmx.content
    assert not Budget.objects.filter(user=member).exists()


def test_a_member_cannot_set_any_cap(member_client, member, other_member):
    assert member_client.post(_set(member), {"monthly_cap": "99999"}).status_code == 403
    assert member_client.post(_set(other_member), {"monthly_cap": "0"}).status_code == 403
    assert member_client.post(ORG, {"monthly_cap": ""}).status_code == 403
    assert not Budget.objects.exists()


def test_an_admin_sets_the_organisation_cap(admin_client):
    response = admin_client.post(ORG, {"monthly_cap": "5000"})
    assert response.status_code == 302
    assert OrgBudget.objects.get(pk=1).monthly_cap == 5000
    page = admin_client.get(BUDGETS).content.decode()
    assert "<strong data-org-cap>5000</strong>" in page
    admin_client.post(ORG, {"monthly_cap": ""})
    assert OrgBudget.objects.get(pk=1).monthly_cap is None
    assert admin_client.post(ORG, {"monthly_cap": "-3"}).status_code == 400


def test_budget_posts_need_a_csrf_token(admin_user, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(_set(member), {"monthly_cap": "10"}).status_code == 403
    assert client.post(ORG, {"monthly_cap": "10"}).status_code == 403
    assert not Budget.objects.exists()


def test_get_is_not_allowed_on_the_write_urls(admin_client, member):
    assert admin_client.get(_set(member)).status_code == 405
    assert admin_client.get(ORG).status_code == 405


def test_the_member_list_shows_this_months_spend_against_the_cap(
    admin_client,
    admin_user,
    member,
    other_member,
    book,
    django_user_model,
    django_assert_max_num_queries,
):
    from viggle_web.usage.selectors import month_window
    from viggle_web.usage.services import budget_set

    budget_set(actor=admin_user, user=member, monthly_cap=200)
    book(member, 50, when=timezone.now())
    book(member, 7, when=timezone.now())
    start, _ = month_window()
    book(member, 1000, when=start.replace(year=start.year - 1))  # last year: not counted
    book(other_member, 3, when=timezone.now())
    url = reverse("members:list")
    html = admin_client.get(url).content.decode()
    row = html.split(f'id="member-{member.pk}"')[1].split("</tr>")[0]
    assert "57 / 200" in row
    other = html.split(f'id="member-{other_member.pk}"')[1].split("</tr>")[0]
    assert "3 / no cap" in other

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for n in range(20):
        user = django_user_model.objects.create_user(username=f"extra{n}")
        book(user, n, when=timezone.now())
        budget_set(actor=admin_user, user=user, monthly_cap=100)
    with django_assert_max_num_queries(len(few)):
        admin_client.get(url)
