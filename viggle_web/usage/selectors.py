"""Reads on the ledger: what a member or the organisation has used and has left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Sum
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.usage.models import Budget, CreditEntry, OrgBudget


def month_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The current budget month in the site's time zone: [start, next start)."""
    local = timezone.localtime(now or timezone.now())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return start, end


def credits_used(*, user: User | None, start: datetime, end: datetime) -> int:
    entries = CreditEntry.objects.filter(created_at__gte=start, created_at__lt=end)
    if user is not None:
        entries = entries.filter(user=user)
    return entries.aggregate(total=Sum("credits"))["total"] or 0


@dataclass(frozen=True)
class ScopeStatus:
    cap: int | None
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.cap - self.used) if self.cap is not None else 10**12

    @property
    def percent(self) -> int:
        if not self.cap:
            return 0
        return min(100, round(100 * self.used / self.cap))

    @property
    def warn(self) -> bool:
        """Members see a warning from 80% of their budget."""
        return self.cap is not None and self.used >= 0.8 * self.cap


@dataclass(frozen=True)
class BudgetStatus:
    member: ScopeStatus
    org: ScopeStatus
    resets_at: datetime

    @property
    def remaining(self) -> int | None:
        caps = [s.remaining for s in (self.member, self.org) if s.cap is not None]
        return min(caps) if caps else None


def budget_status(*, user: User) -> BudgetStatus:
    start, end = month_window()
    member_cap = Budget.objects.filter(user=user).values_list("monthly_cap", flat=True).first()
    org_cap = OrgBudget.objects.filter(pk=1).values_list("monthly_cap", flat=True).first()
    return BudgetStatus(
        member=ScopeStatus(cap=member_cap, used=credits_used(user=user, start=start, end=end)),
        org=ScopeStatus(cap=org_cap, used=credits_used(user=None, start=start, end=end)),
        resets_at=end,
    )
