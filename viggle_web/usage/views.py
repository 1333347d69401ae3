"""Usage pages: the report (page, htmx fragment and CSV) and the budgets admins set.

Views parse with a Form, decide who may see what, and hand over to selectors and services."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from viggle_web.accounts import selectors as account_selectors
from viggle_web.accounts.forms import MemberListFilterForm
from viggle_web.accounts.models import User
from viggle_web.accounts.permissions import admin_required
from viggle_web.core.filters import filter_messages, filter_values
from viggle_web.usage import selectors, services
from viggle_web.usage.charts import bar_chart, stacked_chart
from viggle_web.usage.forms import BudgetForm, UsageFilterForm
from viggle_web.usage.selectors import UsageReport, UsageRow

# --- Report ------------------------------------------------------------------------------------

SERIES_PAGE_ROWS = 31
BREAKDOWN_PAGE_ROWS = 20
# Query keys of the report's paged tables: a new filter or preset starts every table afresh.
PAGE_KEYS = ("rows", "members", "kinds")


@dataclass(frozen=True)
class TablePage:
    """One page of one of the report's tables, with its own query key, so paging one table
    keeps the others (and the filters) where they are."""

    page: Page
    anchor: str
    label: str
    previous_query: str
    next_query: str


def _table_page(
    request: HttpRequest, rows: list[UsageRow], *, key: str, per_page: int, anchor: str, label: str
) -> TablePage:
    page = Paginator(rows, per_page).get_page(request.GET.get(key))

    def query(number: int) -> str:
        changed = request.GET.copy()
        changed[key] = str(number)
        return changed.urlencode()

    return TablePage(
        page=page,
        anchor=anchor,
        label=label,
        previous_query=query(page.previous_page_number()) if page.has_previous() else "",
        next_query=query(page.next_page_number()) if page.has_next() else "",
    )


def _report_scope(request: HttpRequest, member_id: int | None) -> int | None:
    """Whose usage this request may see: admins anyone (None = everyone); members only their own,
    and asking for someone else is refused outright (403), whether that member exists or not."""
    user: User = request.user  # type: ignore[assignment]
    if user.is_admin:
        if member_id is not None and not User.objects.filter(pk=member_id).exists():
            raise Http404("No such member.")
        return member_id
    if member_id not in (None, user.pk):
        raise PermissionDenied("Members can only see their own usage.")
    return user.pk


def _report_from_query(request: HttpRequest) -> tuple[UsageFilterForm, UsageReport | None]:
    form = UsageFilterForm(request.GET)
    if not form.is_valid():
        # Still refuse a member who asks for someone else, even with a malformed range.
        if "member" not in form.errors:
            _report_scope(request, form.cleaned_data.get("member"))
        return form, None
    data = form.cleaned_data
    member_id = _report_scope(request, data["member"])
    report = selectors.usage_report(
        start=data["start"], end=data["end"], group=data["group"], member_id=member_id
    )
    return form, report


@require_GET
def report(request: HttpRequest) -> HttpResponse:
    form, usage = _report_from_query(request)
    user: User = request.user  # type: ignore[assignment]
    context: dict = {
        "form": form,
        "report": usage,
        "budget": selectors.budget_status(user=user),
        "presets": [
            {
                "label": label,
                "query": _query_with(request, start=start.isoformat(), end=end.isoformat()),
                "current": usage is not None and (usage.start, usage.end) == (start, end),
            }
            for label, start, end in date_presets(timezone.localdate())
        ],
    }
    if user.is_admin:
        context["members"] = [
            {"pk": member.pk, "name": member.display_name}
            for member in User.objects.order_by("first_name", "last_name", "username").only(
                "pk", "username", "first_name", "last_name"
            )
        ]
    if usage is None:
        return render(request, "usage/report.html", context, status=400)
    context["chart"] = bar_chart(usage.series)
    split = form.cleaned_data.get("split") or ""
    if split:
        context["split_chart"] = stacked_chart(
            selectors.usage_series_split(
                start=usage.start,
                end=usage.end,
                group=usage.group,
                by=split,
                member_id=usage.member_id,
            )
        )
    context["csv_query"] = request.GET.urlencode()
    # Every table is paged so the page stays a few screens tall (a team of many members, a year
    # of days); each total row, the chart and the CSV keep the whole period.
    tables = {
        # context name: rows, query key, rows a page, anchor ("usage-…"), label
        "members_page": (usage.by_member, "members", BREAKDOWN_PAGE_ROWS, "by-member", "by-member"),
        "kinds_page": (usage.by_model, "kinds", BREAKDOWN_PAGE_ROWS, "by-model", "by-model"),
        "series_page": (usage.series, "rows", SERIES_PAGE_ROWS, "series", f"per-{usage.group}"),
    }
    for name, (rows, key, per_page, anchor, label) in tables.items():
        context[name] = _table_page(
            request, rows, key=key, per_page=per_page, anchor=f"usage-{anchor}", label=label
        )
    if user.is_admin:
        if usage.member_id is None:
            context["ledger_total"] = usage.total.credits  # already the whole ledger's sum
        else:
            lower, upper = selectors.report_window(usage.start, usage.end)
            context["ledger_total"] = selectors.credits_used(user=None, start=lower, end=upper)
        context["balance"] = selectors.viggle_balance()
    return render(request, "usage/report.html", context)


def _query_with(request: HttpRequest, **changes: str) -> str:
    query = request.GET.copy()
    for key in PAGE_KEYS:
        query.pop(key, None)
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


CSV_HEADER = [
    "section",
    "label",
    "credits",
    "output_seconds",
    "renders_completed",
    "failed_or_cancelled",
    "credits_released",
    "characters",
]


def _csv_text(value: str) -> str:
    # A cell starting with one of these is a formula to spreadsheet programs.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_row(section: str, row: UsageRow) -> list[str | int]:
    return [
        section,
        _csv_text(row.label),
        row.credits,
        f"{row.output_seconds:.1f}",
        row.renders,
        row.released_jobs,
        row.released_credits,
        row.characters,
    ]


@require_GET
def report_csv(request: HttpRequest) -> HttpResponse:
    """Exactly the page's tables, with the same filters, rows and totals."""
    form, usage = _report_from_query(request)
    if usage is None:
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        return HttpResponseBadRequest(f"Invalid report filter: {errors}")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"usage-{usage.start:%Y%m%d}-{usage.end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for section, rows in (
        ("member", usage.by_member),
        (usage.group, usage.series),
        ("model", usage.by_model),
    ):
        writer.writerows(_csv_row(section, row) for row in rows)
    writer.writerow(_csv_row("total", usage.total))
    return response


def date_presets(today: date) -> list[tuple[str, date, date]]:
    """The ranges people ask for most: this month, last month and the last 30 days."""
    this_start = today.replace(day=1)
    this_end = (this_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    last_end = this_start - timedelta(days=1)
    return [
        ("This month", this_start, this_end),
        ("Last month", last_end.replace(day=1), last_end),
        ("Last 30 days", today - timedelta(days=29), today),
    ]


# --- Budgets -----------------------------------------------------------------------------------


def _budget_rows(filters: MemberListFilterForm) -> Page:
    data = filter_values(filters)
    members = selectors.with_month_usage(account_selectors.member_list(q=data["q"] or ""))
    return Paginator(members, 50).get_page(data["page"] or 1)


def _budgets_page(
    request: HttpRequest,
    *,
    error_member_id: int | None = None,
    error_form: BudgetForm | None = None,
    org_form: BudgetForm | None = None,
    status: int = 200,
) -> HttpResponse:
    filters = MemberListFilterForm(request.GET)
    _, end = selectors.month_window()
    org = selectors.budget_status(user=request.user).org  # type: ignore[arg-type]
    return render(
        request,
        "usage/budgets.html",
        {
            "page": _budget_rows(filters),
            "filters": filters,
            "error_member_id": error_member_id,
            "error_form": error_form,
            "org": org,
            "org_form": org_form or BudgetForm(initial={"monthly_cap": org.cap}),
            "resets_at": end,
            "filter_errors": filter_messages(filters),
        },
        status=400 if status == 200 and filters.errors else status,
    )


@admin_required
@require_GET
def budgets(request: HttpRequest) -> HttpResponse:
    return _budgets_page(request)


@admin_required
@require_POST
def budget_set(request: HttpRequest, member_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=member_id)
    form = BudgetForm(request.POST)
    saved = False
    if form.is_valid():
        try:
            services.budget_set(
                actor=request.user,  # type: ignore[arg-type]
                user=member,
                monthly_cap=form.cleaned_data["monthly_cap"],
            )
            saved = True
        except ValidationError as exc:
            form.add_error("monthly_cap", exc)
    if request.htmx:
        # The row is swapped in place, errors included (htmx does not swap 4xx answers).
        row = selectors.with_month_usage(User.objects.filter(pk=member.pk)).get()
        return render(
            request,
            "usage/budgets.html#member_row",
            {"member": row, "form": None if saved else form, "saved": saved},
        )
    if not saved:
        return _budgets_page(request, error_member_id=member.pk, error_form=form, status=400)
    cap = form.cleaned_data["monthly_cap"]
    messages.success(
        request,
        f"{member.username}'s monthly cap is now "
        + (f"{cap} credits." if cap is not None else "unlimited."),
    )
    return redirect(f"{reverse('usage:budgets')}?q={member.username}")


@admin_required
@require_POST
def org_budget_set(request: HttpRequest) -> HttpResponse:
    form = BudgetForm(request.POST)
    if form.is_valid():
        try:
            services.org_budget_set(
                actor=request.user,  # type: ignore[arg-type]
                monthly_cap=form.cleaned_data["monthly_cap"],
            )
        except ValidationError as exc:
            form.add_error("monthly_cap", exc)
    if not form.is_valid():
        return _budgets_page(request, org_form=form, status=400)
    cap = form.cleaned_data["monthly_cap"]
    messages.success(
        request,
        "The organisation's monthly cap is now "
        + (f"{cap} credits." if cap is not None else "unlimited."),
    )
    return redirect("usage:budgets")
