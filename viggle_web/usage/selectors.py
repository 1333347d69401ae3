"""Reads on the ledger: what a member or the organisation has used and has left.

Whole days are read from the daily rollup (``UsageDay``, kept in the same transaction as every
ledger insert, see ``usage/rollup.py``), so a report or a budget check costs the same over a
thousand ledger rows or ten million. Only the parts of a window that are not whole days in
settings.TIME_ZONE are read from the ledger itself; the figures are the ledger's sums either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from django.core.cache import cache
from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDay, TruncMonth
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.usage.models import Budget, CreditEntry, OrgBudget, UsageDay
from viggle_web.usage.rollup import LEDGER_SUMS


def month_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The current budget month in the site's time zone: [start, next start)."""
    local = timezone.localtime(now or timezone.now())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return start, end


def _rollup_applies() -> bool:
    """The rollup cuts days in settings.TIME_ZONE; a request that activated another zone cuts
    its report's days there, so it reads the ledger instead."""
    return str(timezone.get_current_timezone()) == str(timezone.get_default_timezone())


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def _whole_days(start: datetime, end: datetime) -> tuple[date, date] | None:
    """The rollup's days lying wholly inside [start, end), as [first, stop), or None."""
    tz = timezone.get_default_timezone()
    first = timezone.localtime(start, tz).date()
    if _day_start(first) < start:
        first += timedelta(days=1)
    stop = timezone.localtime(end, tz).date()
    return (first, stop) if first < stop else None


def credits_spent(*, user: User | None, start: datetime, end: datetime) -> tuple[int, int]:
    """(the member's, everyone's) credits in [start, end), exactly the ledger's sums, in one
    query over the rollup for the whole days plus, only when the window does not start and end
    at midnight in settings.TIME_ZONE, one over the ledger for the hours at its ends."""
    sums = {"everyone": Sum("credits")}
    if user is not None:
        sums["mine"] = Sum("credits", filter=Q(user=user))
    totals = {"everyone": 0, "mine": 0}

    def add(rows: QuerySet) -> None:
        for name, value in rows.aggregate(**sums).items():
            totals[name] += value or 0

    lower, upper = start, end
    days = _whole_days(start, end)
    if days is not None:
        add(UsageDay.objects.filter(day__gte=days[0], day__lt=days[1]))
        lower, upper = _day_start(days[0]), _day_start(days[1])
        edges = [(lo, hi) for lo, hi in ((start, lower), (upper, end)) if lo < hi]
    else:
        edges = [(start, end)] if start < end else []
    if edges:
        within = Q()
        for lo, hi in edges:
            within |= Q(created_at__gte=lo, created_at__lt=hi)
        add(CreditEntry.objects.filter(within))
    return totals["mine"], totals["everyone"]


def credits_used(*, user: User | None, start: datetime, end: datetime) -> int:
    """A member's (or, with ``user=None``, everyone's) credits in [start, end)."""
    mine, everyone = credits_spent(user=user, start=start, end=end)
    return mine if user is not None else everyone


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
    mine, everyone = credits_spent(user=user, start=start, end=end)
    return BudgetStatus(
        member=ScopeStatus(cap=member_cap, used=mine),
        org=ScopeStatus(cap=org_cap, used=everyone),
        resets_at=end,
    )


# --- Reports -----------------------------------------------------------------------------------
# Every figure below is a sum over the same rows (the rollup's days of the range, which add up
# exactly to the ledger's entries of those days), so the report, its CSV and the ledger's own sum
# can never disagree. Each breakdown (by member, by period, by model and mode) is one grouped query
# over the same rows, so each one partitions the same total.

Group = Literal["day", "month"]

# The metrics of one row of any breakdown: the rollup's sums over ledger rows, but the entry
# count. "released" entries are the failed and cancelled renders (a release is booked exactly
# once per such job), and what they gave back. Annotation names must not shadow the model's
# fields (Django refuses Sum("credits") as "credits"), hence "m_".
_METRICS = {f"m_{name}": expr for name, expr in LEDGER_SUMS.items() if name != "entries"}
# The same metrics over rollup rows (each already a sum or count over its day's entries).
_DAY_METRICS = {
    "m_credits": Coalesce(Sum("credits"), 0),
    "m_output_seconds": Coalesce(Sum("output_seconds"), 0.0),
    "m_renders": Coalesce(Sum("renders"), 0),
    "m_released_jobs": Coalesce(Sum("released_jobs"), 0),
    "m_released_credits": Coalesce(Sum("released_credits"), 0),
    "m_characters": Coalesce(Sum("characters"), 0),
}


@dataclass(frozen=True)
class UsageRow:
    """One line of a breakdown; ``key`` identifies it (member id, period start, (model, mode))."""

    label: str
    key: Any = None
    credits: int = 0
    output_seconds: float = 0.0
    renders: int = 0
    released_jobs: int = 0
    released_credits: int = 0
    characters: int = 0

    @classmethod
    def from_values(cls, label: str, key: Any, values: dict[str, Any]) -> UsageRow:
        return cls(
            label=label,
            key=key,
            credits=values["m_credits"],
            output_seconds=float(values["m_output_seconds"]),
            renders=values["m_renders"],
            released_jobs=values["m_released_jobs"],
            # Release entries are negative (credits given back); reports show them positive.
            released_credits=-values["m_released_credits"],
            characters=values["m_characters"],
        )

    def __add__(self, other: UsageRow) -> UsageRow:
        return UsageRow(
            label=self.label,
            key=self.key,
            credits=self.credits + other.credits,
            output_seconds=self.output_seconds + other.output_seconds,
            renders=self.renders + other.renders,
            released_jobs=self.released_jobs + other.released_jobs,
            released_credits=self.released_credits + other.released_credits,
            characters=self.characters + other.characters,
        )


@dataclass(frozen=True)
class UsageReport:
    start: date
    end: date  # inclusive
    group: Group
    member_id: int | None
    by_member: list[UsageRow]
    series: list[UsageRow]
    by_model: list[UsageRow]

    @property
    def total(self) -> UsageRow:
        return sum(self.by_member, UsageRow(label="Total"))


def report_window(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, day after end 00:00) in the site's time zone, for inclusive dates."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _entries(*, start: date, end: date, member_id: int | None) -> QuerySet[CreditEntry]:
    lower, upper = report_window(start, end)
    entries = CreditEntry.objects.filter(created_at__gte=lower, created_at__lt=upper)
    if member_id is not None:
        entries = entries.filter(user_id=member_id)
    # The model's default ordering would leak into GROUP BY.
    return entries.order_by()


def _report_rows(*, start: date, end: date, member_id: int | None) -> tuple[QuerySet, dict]:
    """What a report over the whole days [start, end] aggregates, and with which metrics: the
    rollup's rows of those days, or (a request in another time zone) the ledger's entries."""
    if not _rollup_applies():
        return _entries(start=start, end=end, member_id=member_id), _METRICS
    days = UsageDay.objects.filter(day__gte=start, day__lte=end)
    if member_id is not None:
        days = days.filter(user_id=member_id)
    return days.order_by(), _DAY_METRICS


def usage_by_member_and_model(
    *, start: date, end: date, member_id: int | None = None
) -> tuple[list[UsageRow], list[UsageRow]]:
    """The per-member and the per-(model, mode) breakdowns, rolled up from one query grouped by
    (member, model, mode) over the rollup's days; the groups stay few (members x models x 2
    modes)."""
    source, metrics = _report_rows(start=start, end=end, member_id=member_id)
    return _breakdowns(list(source.values("user_id", "model", "mode").annotate(**metrics)))


def usage_by_member(*, start: date, end: date, member_id: int | None = None) -> list[UsageRow]:
    """One row per member with ledger entries in the period (one query)."""
    return usage_by_member_and_model(start=start, end=end, member_id=member_id)[0]


def usage_by_model(*, start: date, end: date, member_id: int | None = None) -> list[UsageRow]:
    """One row per (model, mode): fast against normal, V4 against V3 (one query)."""
    return usage_by_member_and_model(start=start, end=end, member_id=member_id)[1]


def _periods(start: date, end: date, group: Group) -> list[date]:
    if group == "day":
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    periods, current = [], start.replace(day=1)
    while current <= end:
        periods.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return periods


def _period(source: QuerySet, group: Group) -> Any:
    """The period a row falls in: rollup rows by their plain day column even for months (folded
    afterwards: cheaper in Postgres than truncating 365 x members x models dates, and a year is
    only 365 rows), ledger rows by their time cut in the site's time zone."""
    if source.model is UsageDay:
        return F("day")
    truncate = TruncDay if group == "day" else TruncMonth
    return truncate("created_at", tzinfo=timezone.get_current_timezone())


def _period_start(value: date | datetime, group: Group) -> date:
    """The first day of the period a ``_period`` value stands for, in the site's time zone."""
    day = timezone.localtime(value).date() if isinstance(value, datetime) else value
    return day.replace(day=1) if group == "month" else day


def usage_series(
    *, start: date, end: date, group: Group, member_id: int | None = None
) -> list[UsageRow]:
    """One row per day or month of the range, empty periods included (one query). Periods are
    cut in the site's time zone, like the budget month."""
    source, metrics = _report_rows(start=start, end=end, member_id=member_id)
    rows = (
        source.annotate(period=_period(source, group))
        .values("period")
        .annotate(**metrics)
        .order_by("period")
    )
    return _series(list(rows), start=start, end=end, group=group, metrics=list(metrics))


def _display_names(ids: set[int]) -> dict[int, str]:
    """Members' names as people know them (full name, else username)."""
    users = User.objects.filter(pk__in=ids).only("pk", "username", "first_name", "last_name")
    return {user.pk: user.display_name for user in users}


@dataclass(frozen=True)
class SplitSeries:
    """Credits per period, split into segments (members or kinds of spending) for the chart."""

    labels: list[str]  # one per period
    segments: list[tuple[str, list[int]]]  # (segment name, credits per period)


def usage_series_split(
    *, start: date, end: date, group: Group, by: str, member_id: int | None = None
) -> SplitSeries:
    """The chart's stacks: credits per period and per member (``by="member"``) or per kind
    (``by="kind"``: model and speed of renders, characters, template imports). One query."""
    source, _ = _report_rows(start=start, end=end, member_id=member_id)
    period = _period(source, group)
    keys = ["user_id"] if by == "member" else ["model", "mode"]
    rows = source.annotate(period=period).values("period", *keys).annotate(total=Sum("credits"))
    periods = _periods(start, end, group)
    index = {p: n for n, p in enumerate(periods)}
    stacks: dict[Any, list[int]] = {}
    for row in rows.order_by():
        key = _period_start(row["period"], group)
        segment = row["user_id"] if by == "member" else (row["model"], row["mode"])
        stacks.setdefault(segment, [0] * len(periods))[index[key]] += row["total"] or 0
    if by == "member":
        names = _display_names(set(stacks))
        named = [(names.get(k, str(k)), v) for k, v in stacks.items()]
    else:
        named = [(_model_label(*k), v) for k, v in stacks.items()]
    named.sort(key=lambda item: (-sum(item[1]), item[0]))
    fmt = "%Y-%m-%d" if group == "day" else "%Y-%m"
    return SplitSeries(labels=[p.strftime(fmt) for p in periods], segments=named)


def _model_label(model: str, mode: str) -> str:
    if model == "template":  # usage.services.TEMPLATE_MODEL
        return "Template import"
    if not model:
        return "Characters" if mode == CreditEntry.Mode.NORMAL else f"Other ({mode})"
    return f"{model.replace('_', ' ')} · {CreditEntry.Mode(mode).label.lower()}"


# Both breakdowns of a report in one pass over the rollup: GROUPING SETS aggregates the same
# scanned rows by (member, model, mode) and by day at once (two grouped queries read them twice).
_ROLLUP_BOTH = """
SELECT GROUPING(day) AS by_key, user_id, model, mode, day,
       COALESCE(SUM(credits), 0), COALESCE(SUM(output_seconds), 0.0), COALESCE(SUM(renders), 0),
       COALESCE(SUM(released_jobs), 0), COALESCE(SUM(released_credits), 0),
       COALESCE(SUM(characters), 0)
FROM {table}
WHERE day >= %s AND day <= %s {member}
GROUP BY GROUPING SETS ((user_id, model, mode), (day))
"""
_METRIC_NAMES = list(_DAY_METRICS)


def _rollup_both(
    *, start: date, end: date, member_id: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows by member/model/mode, rows by day) of the rollup over [start, end], one query."""
    from django.db import connection

    sql = _ROLLUP_BOTH.format(
        table=connection.ops.quote_name(UsageDay._meta.db_table),
        member="AND user_id = %s" if member_id is not None else "",
    )
    params: list[Any] = [start, end] + ([member_id] if member_id is not None else [])
    by_key: list[dict[str, Any]] = []
    by_day: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for grouping, user_id, model, mode, day, *metrics in cursor.fetchall():
            values = dict(zip(_METRIC_NAMES, metrics, strict=True))
            if grouping:  # day rolled up: a (member, model, mode) row
                by_key.append({"user_id": user_id, "model": model, "mode": mode, **values})
            else:
                by_day.append({"period": day, **values})
    return by_key, by_day


def _breakdowns(rows: list[dict[str, Any]]) -> tuple[list[UsageRow], list[UsageRow]]:
    """Per-member and per-(model, mode) rows from rows grouped by (member, model, mode)."""
    names = _display_names({row["user_id"] for row in rows})
    members: dict[int, UsageRow] = {}
    models: dict[tuple[str, str], UsageRow] = {}
    for row in rows:
        member_row = UsageRow.from_values(names[row["user_id"]], row["user_id"], row)
        key = (row["model"], row["mode"])
        model_row = UsageRow.from_values(_model_label(*key), key, row)
        previous = members.get(row["user_id"])
        members[row["user_id"]] = previous + member_row if previous else member_row
        models[key] = models[key] + model_row if key in models else model_row
    return (
        sorted(members.values(), key=lambda r: (r.label.lower(), r.label)),
        [models[key] for key in sorted(models)],
    )


def _series(
    rows: list[dict[str, Any]], *, start: date, end: date, group: Group, metrics: list[str]
) -> list[UsageRow]:
    """One row per day or month of [start, end], empty periods included, from grouped rows
    carrying a ``period`` (a day, or a time cut in the site's time zone)."""
    found: dict[date, dict[str, Any]] = {}
    for row in rows:
        key = _period_start(row["period"], group)
        if key in found:
            found[key] = {name: found[key][name] + row[name] for name in metrics}
        else:
            found[key] = row
    fmt = "%Y-%m-%d" if group == "day" else "%Y-%m"
    return [
        UsageRow.from_values(period.strftime(fmt), period, found[period])
        if period in found
        else UsageRow(label=period.strftime(fmt), key=period)
        for period in _periods(start, end, group)
    ]


def usage_report(
    *, start: date, end: date, group: Group, member_id: int | None = None
) -> UsageReport:
    """Everything the usage page and its CSV show: on Postgres with the rollup, one grouped
    query (GROUPING SETS) for both breakdowns and one for the members' names, whatever the
    number of ledger rows; elsewhere two grouped queries."""
    from django.db import connection

    if _rollup_applies() and connection.vendor == "postgresql":
        by_key, by_day = _rollup_both(start=start, end=end, member_id=member_id)
        by_member, by_model = _breakdowns(by_key)
        series = _series(by_day, start=start, end=end, group=group, metrics=_METRIC_NAMES)
    else:
        by_member, by_model = usage_by_member_and_model(start=start, end=end, member_id=member_id)
        series = usage_series(start=start, end=end, group=group, member_id=member_id)
    return UsageReport(
        start=start,
        end=end,
        group=group,
        member_id=member_id,
        by_member=by_member,
        series=series,
        by_model=by_model,
    )


def with_month_usage(members: QuerySet[User]) -> QuerySet[User]:
    """Annotate members with ``month_credits`` (spent this budget month) and ``monthly_cap``.
    A correlated subquery per member on the rollup's (user, day) index: Postgres evaluates it for
    the rows of the page only, and a month is at most 31 x models x modes rows a member."""
    start, end = month_window()
    if _rollup_applies():
        rows = UsageDay.objects.filter(
            user=OuterRef("pk"), day__gte=start.date(), day__lt=end.date()
        )
    else:
        rows = CreditEntry.objects.filter(
            user=OuterRef("pk"), created_at__gte=start, created_at__lt=end
        )
    spent = rows.order_by().values("user").annotate(total=Sum("credits")).values("total")
    return members.annotate(
        month_credits=Coalesce(Subquery(spent, output_field=IntegerField()), 0),
        monthly_cap=F("budget__monthly_cap"),
    )


@dataclass(frozen=True)
class Balance:
    """The organisation's Viggle balance, or why it could not be read, and when it was asked."""

    credits: float | None
    checked_at: datetime
    error: str = ""


BALANCE_CACHE_KEY = "usage:viggle-balance"
BALANCE_CACHE_SECONDS = 60


def viggle_balance() -> Balance:
    """Ask Viggle for the organisation's balance (admins' report only). The answer, a failure
    included, is kept for a minute: while Viggle is down the client retries for seconds, and a
    report page should not wait that long on every load."""
    from viggle_web.viggle.client import get_client
    from viggle_web.viggle.errors import ViggleError

    cached = cache.get(BALANCE_CACHE_KEY)
    if isinstance(cached, Balance):
        return cached
    try:
        balance = Balance(credits=get_client().credits().balance, checked_at=timezone.now())
    except ViggleError as exc:
        balance = Balance(
            credits=None, checked_at=timezone.now(), error=exc.human_message or str(exc)
        )
    cache.set(BALANCE_CACHE_KEY, balance, BALANCE_CACHE_SECONDS)
    return balance


def template_import_credits(*, asset_id: int) -> int:
    """What the ledger holds for a template import (its hold and any adjustment; 0 once
    released)."""
    subject = f"template:{asset_id}"
    return (
        CreditEntry.objects.filter(subject__in=[subject, f"{subject}:adjust"]).aggregate(
            total=Sum("credits")
        )["total"]
        or 0
    )
