"""budget_set / org_budget_set, and budget_enforce against the caps they set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from viggle_web.usage.models import Budget, OrgBudget
from viggle_web.usage.selectors import budget_status, month_window
from viggle_web.usage.services import (
    BudgetExceeded,
    budget_enforce,
    budget_set,
    org_budget_set,
)

pytestmark = pytest.mark.django_db


def _enforce(user, credits: int) -> None:
    # budget_enforce locks rows: it must run inside the booking transaction.
    with transaction.atomic():
        budget_enforce(user=user, credits=credits)


def test_an_admin_sets_and_clears_a_members_cap(admin_user, member):
    budget_set(actor=admin_user, user=member, monthly_cap=100)
    assert Budget.objects.get(user=member).monthly_cap == 100
    budget_set(actor=admin_user, user=member, monthly_cap=40)
    assert Budget.objects.get(user=member).monthly_cap == 40
    budget_set(actor=admin_user, user=member, monthly_cap=None)
    assert Budget.objects.get(user=member).monthly_cap is None
    assert Budget.objects.count() == 1


def test_a_member_cannot_set_a_budget(member, other_member):
    with pytest.raises(PermissionDenied):
        budget_set(actor=member, user=other_member, monthly_cap=10_000)
    with pytest.raises(PermissionDenied):
        budget_set(actor=member, user=member, monthly_cap=10_000)
    with pytest.raises(PermissionDenied):
        org_budget_set(actor=member, monthly_cap=10_000)
    assert not Budget.objects.exists()
    assert OrgBudget.objects.filter(monthly_cap__isnull=False).count() == 0


def test_a_negative_cap_is_refused(admin_user, member):
    with pytest.raises(ValidationError):
        budget_set(actor=admin_user, user=member, monthly_cap=-1)
    with pytest.raises(ValidationError):
        org_budget_set(actor=admin_user, monthly_cap=-5)


def test_an_admin_sets_and_clears_the_organisation_cap(admin_user):
    org_budget_set(actor=admin_user, monthly_cap=5000)
    assert OrgBudget.objects.get(pk=1).monthly_cap == 5000
    org_budget_set(actor=admin_user, monthly_cap=None)
    assert OrgBudget.objects.get(pk=1).monthly_cap is None
    assert OrgBudget.objects.count() == 1


def test_it_refuses_a_spend_over_the_members_cap_naming_what_is_left_and_the_reset(
    admin_user, member, book
):
    budget_set(actor=admin_user, user=member, monthly_cap=100)
    book(member, 70, when=timezone.now())
    _, resets = month_window()
    with pytest.raises(BudgetExceeded) as refused:
        _enforce(member, 31)
    assert refused.value.remaining == 30
    assert refused.value.resets_at == resets
    message = refused.value.message
    assert "30 of 100 left" in message
    assert "your monthly budget" in message
    assert timezone.localtime(resets).strftime("%-d %B %Y") in message


def test_it_allows_a_spend_that_reaches_the_cap_exactly(admin_user, member, book):
    budget_set(actor=admin_user, user=member, monthly_cap=100)
    book(member, 70, when=timezone.now())
    _enforce(member, 30)  # exactly at the cap: allowed
    book(member, 30, when=timezone.now())
    with pytest.raises(BudgetExceeded) as refused:
        _enforce(member, 1)
    assert refused.value.remaining == 0


def test_it_refuses_a_spend_over_the_organisation_cap(admin_user, member, other_member, book):
    org_budget_set(actor=admin_user, monthly_cap=500)
    budget_set(actor=admin_user, user=member, monthly_cap=1000)
    book(other_member, 450, when=timezone.now())
    _enforce(member, 50)  # exactly the organisation's remaining 50
    with pytest.raises(BudgetExceeded) as refused:
        _enforce(member, 51)
    assert refused.value.remaining == 50
    assert "the organisation's monthly budget has only 50 of 500 left" in refused.value.message
    _, resets = month_window()
    assert timezone.localtime(resets).strftime("%-d %B %Y") in refused.value.message


def test_last_months_spending_does_not_count(admin_user, member, book):
    budget_set(actor=admin_user, user=member, monthly_cap=100)
    start, _ = month_window()
    book(member, 100, when=start - timedelta(seconds=1))
    _enforce(member, 100)
    assert budget_status(user=member).member.used == 0


def test_releases_give_budget_back(admin_user, member, book):
    budget_set(actor=admin_user, user=member, monthly_cap=100)
    now = timezone.now()
    book(member, 80, when=now, subject="job:1")
    with pytest.raises(BudgetExceeded):
        _enforce(member, 21)  # while held, only 20 are left
    book(member, -80, when=now, kind="release", subject="job:1")
    status = budget_status(user=member).member
    assert (status.used, status.remaining) == (0, 100)
    _enforce(member, 100)  # the whole cap again
    with pytest.raises(BudgetExceeded):
        _enforce(member, 101)
