"""The usage page and its CSV: who may see what, what they show, and what they cost."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from tests.usage.conftest import entry, save_entries
from viggle_web.usage.models import CreditEntry, UsageDay

pytestmark = pytest.mark.django_db

REPORT = reverse("usage:report")
CSV = reverse("usage:csv")


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def _mixed_ledger(users, days: list[date], tag: str = "job") -> list[CreditEntry]:
    """Reserves, settles (up and down), releases, fast renders and characters."""
    rows = []
    for n, day in enumerate(days):
        for u, user in enumerate(users):
            job = f"{tag}:{day}:{user.pk}"
            fast = (n + u) % 3 == 0
            rows.append(
                entry(user, 10, when=_at(day, 9), subject=job, mode="fast" if fast else "normal")
            )
            if (n + u) % 4 == 0:
                rows.append(entry(user, -10, when=_at(day, 10), kind="release", subject=job))
            else:
                rows.append(
                    entry(
                        user,
                        (n % 3) - 1,
                        when=_at(day, 10),
                        kind="settle",
                        subject=job,
                        output_seconds=9.5 + n % 3,
                        mode="fast" if fast else "normal",
                        model="V3_Preview" if u % 2 else "V4_Preview",
                    )
                )
            if n % 5 == 0:
                rows.append(entry(user, 1, when=_at(day, 11), kind="character"))
    return save_entries(rows)


# --- access ------------------------------------------------------------------------------------


def test_a_member_sees_their_own_report_only(member_client, member, other_member, book):
    today = timezone.localdate()
    book(member, 12, when=timezone.now())
    book(other_member, 700, when=timezone.now())
    response = member_client.get(REPORT)
    assert response.status_code == 200
    report = response.context["report"]
    assert report.member_id == member.pk
    assert report.total.credits == 12
    assert b"carol" not in response.content
    assert response.context.get("balance") is None  # the organisation's balance is for admins
    assert response.context["form"].cleaned_data["start"] == today.replace(day=1)


def test_a_member_cannot_see_another_members_report(member_client, member, other_member):
    assert member_client.get(REPORT, {"member": other_member.pk}).status_code == 403
    assert member_client.get(CSV, {"member": other_member.pk}).status_code == 403
    # Whether or not that member exists, and even with a broken range.
    assert member_client.get(REPORT, {"member": 987654}).status_code == 403
    assert member_client.get(REPORT, {"member": other_member.pk, "start": "x"}).status_code == 403
    # Asking for oneself explicitly is fine.
    assert member_client.get(REPORT, {"member": member.pk}).status_code == 200


def test_an_admin_sees_everyone_and_can_filter_by_member(admin_client, member, other_member, book):
    book(member, 12, when=timezone.now())
    book(other_member, 30, when=timezone.now())
    everyone = admin_client.get(REPORT)
    assert everyone.status_code == 200
    assert [row.label for row in everyone.context["report"].by_member] == ["bob", "carol"]
    assert everyone.context["report"].total.credits == 42
    one = admin_client.get(REPORT, {"member": other_member.pk})
    assert one.context["report"].total.credits == 30
    assert [row.label for row in one.context["report"].by_member] == ["carol"]
    assert admin_client.get(REPORT, {"member": 987654}).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in (REPORT, CSV):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-13-01"},
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"group": "week"},
        {"start": "2020-01-01", "end": "2026-01-01", "group": "day"},
        {"start": "2000-01-01", "end": "2026-01-01", "group": "month"},
        {"member": "bob"},
    ],
)
def test_an_invalid_filter_is_a_400_with_a_message(member_client, query):
    response = member_client.get(REPORT, query)
    assert response.status_code == 400
    assert b"This report filter is not valid" in response.content
    assert response.context["report"] is None
    csv_response = member_client.get(CSV, query)
    assert csv_response.status_code == 400
    assert b"Invalid report filter" in csv_response.content


# --- contents ----------------------------------------------------------------------------------


def test_csv_totals_equal_the_page_totals_the_rollup_and_the_ledger_sum(
    admin_client, admin_user, member, other_member
):
    start = date(2026, 3, 1)
    days = [start + timedelta(days=n) for n in range(20)]
    _mixed_ledger([member, other_member, admin_user], days)
    # Outside the range: must count nowhere.
    save_entries(
        [
            entry(member, 999, when=_at(date(2026, 2, 28), 23)),
            entry(member, 999, when=_at(date(2026, 4, 1), 0)),
        ]
    )
    query = {"start": "2026-03-01", "end": "2026-03-31", "group": "day"}

    page = admin_client.get(REPORT, query)
    rows = _csv(admin_client.get(CSV, query))

    lo, hi = _at(date(2026, 3, 1), 0), _at(date(2026, 4, 1), 0)
    ledger = CreditEntry.objects.filter(created_at__gte=lo, created_at__lt=hi)
    ledger_credits = ledger.aggregate(s=Sum("credits"))["s"]
    ledger_seconds = ledger.aggregate(s=Sum("output_seconds"))["s"]
    released = ledger.filter(kind="release")

    report = page.context["report"]
    total = report.total
    csv_total = next(r for r in rows if r["section"] == "total")
    assert total.credits == int(csv_total["credits"]) == ledger_credits
    assert f"{total.output_seconds:.1f}" == csv_total["output_seconds"] == f"{ledger_seconds:.1f}"
    assert total.released_jobs == int(csv_total["failed_or_cancelled"]) == released.count()
    assert total.released_credits == int(csv_total["credits_released"])
    assert total.released_credits == -released.aggregate(s=Sum("credits"))["s"]
    assert (
        total.renders == int(csv_total["renders_completed"]) == ledger.filter(kind="settle").count()
    )
    assert (
        total.characters == int(csv_total["characters"]) == ledger.filter(kind="character").count()
    )
    assert page.context["ledger_total"] == ledger_credits
    # The daily rollup the report reads holds the same sums as the ledger.
    rollup = UsageDay.objects.filter(day__gte=date(2026, 3, 1), day__lte=date(2026, 3, 31))
    assert rollup.aggregate(s=Sum("credits"))["s"] == ledger_credits
    assert rollup.aggregate(s=Sum("released_credits"))["s"] == -total.released_credits
    # The page prints the same totals.
    html = page.content.decode()
    assert f'data-total="credits">{ledger_credits}<' in html
    assert f'data-summary="credits">{ledger_credits}<' in html

    # Same rows as the page, each section adding up to the same total.
    for section, shown in (
        ("member", report.by_member),
        ("day", report.series),
        ("model", report.by_model),
    ):
        lines = [r for r in rows if r["section"] == section]
        assert [r["label"] for r in lines] == [row.label for row in shown]
        assert [int(r["credits"]) for r in lines] == [row.credits for row in shown]
        assert sum(int(r["credits"]) for r in lines) == ledger_credits
    assert len([r for r in rows if r["section"] == "day"]) == 31  # empty days included


def test_it_breaks_usage_down_by_model_and_mode_and_shows_failures(admin_client, member):
    now = timezone.now()
    save_entries(
        [
            entry(member, 10, when=now, subject="job:1"),
            entry(member, 0, when=now, kind="settle", subject="job:1", output_seconds=10.0),
            entry(member, 20, when=now, subject="job:2", mode="fast"),
            entry(
                member,
                2,
                when=now,
                kind="settle",
                subject="job:2",
                output_seconds=11.0,
                mode="fast",
            ),
            entry(member, 8, when=now, subject="job:3", model="V3_Preview"),
            entry(member, -8, when=now, kind="release", subject="job:3", model="V3_Preview"),
            entry(member, 1, when=now, kind="character"),
        ]
    )
    report = admin_client.get(REPORT).context["report"]
    by_model = {row.key: row for row in report.by_model}
    assert by_model[("V4_Preview", "normal")].credits == 10
    assert by_model[("V4_Preview", "fast")].credits == 22
    assert by_model[("V4_Preview", "fast")].output_seconds == 11.0
    assert by_model[("V3_Preview", "normal")].credits == 0
    assert by_model[("V3_Preview", "normal")].released_jobs == 1
    assert by_model[("V3_Preview", "normal")].released_credits == 8
    assert by_model[("", "normal")].label == "Characters"
    assert by_model[("", "normal")].characters == 1
    assert report.total.credits == 33
    assert report.total.renders == 2
    (bob,) = report.by_member
    assert (bob.released_jobs, bob.released_credits, bob.output_seconds) == (1, 8, 21.0)


def test_the_chart_is_inline_svg_with_a_bar_per_period(member_client, member, book):
    book(member, 5, when=_at(date(2026, 5, 2)))
    book(member, 7, when=_at(date(2026, 7, 9)))
    response = member_client.get(
        REPORT, {"start": "2026-01-01", "end": "2026-12-31", "group": "month"}
    )
    html = response.content.decode()
    assert html.count('<rect class="bar') == 12
    assert "<title>2026-07: 7 credits</title>" in html
    assert "<script" not in html.split('<main class="content">')[1]
    assert [row.credits for row in response.context["report"].series][4:7] == [5, 0, 7]


def test_days_are_cut_in_the_sites_time_zone(member_client, member, book, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin.
    book(member, 4, when=datetime.fromisoformat("2026-03-01T23:30:00+00:00"))
    report = member_client.get(REPORT, {"start": "2026-03-01", "end": "2026-03-03"}).context[
        "report"
    ]
    assert [row.credits for row in report.series] == [0, 4, 0]


def test_admins_see_the_viggle_balance_beside_the_ledger_total(
    admin_client, member, book, viggle_balance
):
    book(member, 25, when=timezone.now())
    viggle_balance(balance=4321.0)
    html = admin_client.get(REPORT).content.decode()
    assert "data-balance>4321<" in html
    assert "data-ledger-total>25<" in html


def test_an_unreachable_viggle_shows_balance_unavailable(admin_client, viggle_balance):
    viggle_balance(unreachable=True)
    response = admin_client.get(REPORT)
    assert response.status_code == 200
    assert "balance unavailable: Viggle could not be reached" in response.content.decode()


def test_a_member_near_their_cap_sees_the_warning(member_client, member, admin_user, book):
    from viggle_web.usage.services import budget_set

    budget_set(actor=admin_user, user=member, monthly_cap=100)
    book(member, 79, when=timezone.now())
    assert b"data-budget-warning" not in member_client.get(REPORT).content
    book(member, 1, when=timezone.now())
    html = member_client.get(REPORT).content.decode()
    assert "data-budget-warning" in html
    assert "You have used 80 of your 100 monthly credits (80%): 20 left." in html


# --- cost --------------------------------------------------------------------------------------


def test_the_admin_year_report_costs_the_same_queries_for_20_or_2000_rows(
    admin_client,
    admin_user,
    member,
    other_member,
    django_user_model,
    django_assert_max_num_queries,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    query = {"start": "2025-01-01", "end": "2025-12-31", "group": "month"}
    first = [date(2025, 1, 1) + timedelta(days=n) for n in range(0, 365, 73)]
    _mixed_ledger([member, other_member], first[:5])  # ~20 rows
    assert CreditEntry.objects.count() <= 30
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(REPORT, query).status_code == 200
    n_small = len(small)  # read now: the next request resets the query log
    with CaptureQueriesContext(connection) as small_csv:
        assert admin_client.get(CSV, query).status_code == 200
    n_small_csv = len(small_csv)
    assert 0 < n_small_csv < n_small < 20

    more = [django_user_model.objects.create_user(username=f"m{n}") for n in range(8)]
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(0, 365, 3)]
    _mixed_ledger([member, other_member, *more], days, tag="more")
    assert CreditEntry.objects.count() >= 2000

    with django_assert_max_num_queries(n_small):
        response = admin_client.get(REPORT, query)
    assert len(response.context["report"].by_member) == 10
    with django_assert_max_num_queries(n_small_csv):
        admin_client.get(CSV, query)


def test_the_balance_is_asked_once_a_minute_not_on_every_load(admin_client, viggle_sim):
    admin_client.get(REPORT)
    admin_client.get(REPORT)
    assert len(viggle_sim.calls("GET", "/api/credits")) == 1


def test_the_filter_shows_the_range_in_effect(member_client):
    html = member_client.get(REPORT, {"start": "2026-02-03", "end": "2026-02-20"}).content.decode()
    assert 'name="start" value="2026-02-03"' in html
    assert 'name="end" value="2026-02-20"' in html
    default = member_client.get(REPORT).content.decode()
    first = timezone.localdate().replace(day=1)
    assert f'name="start" value="{first:%Y-%m-%d}"' in default


def test_filtered_to_one_member_the_ledger_total_is_still_everyones(
    admin_client, member, other_member, book
):
    book(member, 25, when=timezone.now())
    book(other_member, 5, when=timezone.now())
    response = admin_client.get(REPORT, {"member": other_member.pk})
    assert response.context["report"].total.credits == 5
    assert "data-ledger-total>30<" in response.content.decode()


def test_the_by_member_table_is_paged_and_keeps_the_whole_total(admin_client, member):
    """A team of 25 who all rendered: the by-member table shows 20 a page, its total row (and the
    other tables) the whole team, and the next page the other 5."""
    from viggle_web.accounts.models import User

    now = timezone.now()
    team = [member] + [
        User.objects.create_user(username=f"m{n:02d}", password="pw-long-enough-1")
        for n in range(24)
    ]
    save_entries([entry(user, 2, when=now) for user in team])
    first = admin_client.get(REPORT)
    body = first.content.decode()
    table = body[body.index('id="usage-by-member"') : body.index('id="usage-by-model"')]
    assert table.count("<tbody") == 1 and table.count('<tr class="total"') == 1
    assert '<td class="num" data-total="credits">50</td>' in table  # all 25 x 2 credits
    assert "Rows 1–20 of 25" in body
    assert 'aria-label="Pages of the by-member table"' in body
    page = first.context["members_page"].page
    assert len(page.object_list) == 20
    second = admin_client.get(REPORT, {"members": 2})
    assert len(second.context["members_page"].page.object_list) == 5
    assert "Rows 21–25 of 25" in second.content.decode()
    # Paging the member table leaves the others on their first page; a new filter starts afresh.
    assert second.context["series_page"].page.number == 1
    labels = {row.label for row in first.context["members_page"].page.object_list} | {
        row.label for row in second.context["members_page"].page.object_list
    }
    assert len(labels) == 25
    preset = second.context["presets"][0]["query"]
    assert "members=" not in preset
