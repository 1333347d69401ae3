"""The daily rollup (UsageDay): kept with every ledger insert, exact, rebuilt on demand, and safe
under concurrent bookings (Postgres)."""

from __future__ import annotations

import importlib
import random
import threading
import time
import types
from datetime import date, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from tests.renders.factories import asset_row
from tests.usage.conftest import entry, save_entries
from viggle_web.renders import services as render_services
from viggle_web.usage import selectors
from viggle_web.usage import services as ledger
from viggle_web.usage.models import CreditEntry, UsageDay
from viggle_web.usage.rollup import rollup_differences, rollup_rebuild

TZ = "America/New_York"  # not UTC, and with a DST change inside the dates below


def _at(when: datetime):
    """Freeze the clock the ledger's auto_now_add reads."""
    return mock.patch("django.utils.timezone.now", return_value=when)


def _submit(owner, *, fast: bool, key: str):
    character = asset_row(owner=owner, kind="image")
    motion = asset_row(owner=owner, kind="video", seconds=random.choice([1.5, 3.0, 7.2]))
    return render_services.job_submit(
        owner=owner,
        idempotency_key=key,
        request=render_services.RenderRequest(character=character, motion=motion, fast=fast),
    )


def _ledger_sum(start: datetime, end: datetime, user=None) -> int:
    entries = CreditEntry.objects.filter(created_at__gte=start, created_at__lt=end)
    if user is not None:
        entries = entries.filter(user=user)
    return entries.aggregate(s=Sum("credits"))["s"] or 0


def _random_bookings(rng: random.Random, users, first: datetime, days: int, steps: int) -> None:
    """Reserves, settles, releases (some repeated or refused), characters, templates and bulk
    inserts, at random instants over ``days`` days."""
    jobs = []
    for step in range(steps):
        when = first + timedelta(seconds=rng.randrange(days * 86400))
        user = rng.choice(users)
        action = rng.choice(["submit", "submit", "settle", "release", "character", "template"])
        with _at(when):
            if action == "submit" or not jobs and action in ("settle", "release"):
                jobs.append(_submit(user, fast=rng.random() < 0.3, key=f"rollup-{step:05d}"))
            elif action == "settle":
                job = rng.choice(jobs)
                charge = render_services._charge(job)
                ledger.credit_settle(charge=charge, output_seconds=rng.uniform(0.5, 9.0))
            elif action == "release":
                ledger.credit_release(charge=render_services._charge(rng.choice(jobs)), reason="x")
            elif action == "character":
                # Repeats of a subject are refused by the ledger and must count nowhere.
                ledger.credit_charge_character(user=user, subject=f"character:{rng.randrange(8)}")
            else:
                ledger.credit_charge_template(
                    user=user, subject=f"template:{rng.randrange(8)}", credits=rng.randrange(1, 9)
                )
        if step % 25 == 0:
            save_entries(
                entry(rng.choice(users), rng.randrange(-5, 20), when=when, mode="fast")
                for _ in range(3)
            )


@pytest.mark.django_db
def test_after_random_bookings_the_rollup_equals_the_ledger_aggregated(
    settings, admin_user, member, other_member
):
    settings.TIME_ZONE = TZ
    rng = random.Random(20261122)
    tz = timezone.get_default_timezone()
    first = datetime(2026, 3, 1, tzinfo=tz)  # New York moves its clocks on 8 March 2026
    _random_bookings(rng, [admin_user, member, other_member], first, days=20, steps=150)
    assert CreditEntry.objects.count() > 100
    assert rollup_differences() == []

    # Spelled out once, without the rollup module: per local day, member, model and mode.
    by_day = {}
    for e in CreditEntry.objects.all():
        key = (timezone.localtime(e.created_at, tz).date(), e.user_id, e.model, e.mode)
        credits, entries = by_day.get(key, (0, 0))
        by_day[key] = (credits + e.credits, entries + 1)
    rollup = {
        (r.day, r.user_id, r.model, r.mode): (r.credits, r.entries) for r in UsageDay.objects.all()
    }
    assert rollup == by_day
    kinds = {"renders": "settle", "released_jobs": "release", "characters": "character"}
    rollup_totals = UsageDay.objects.aggregate(
        t_credits=Sum("credits"),
        t_released=Sum("released_credits"),
        **{f"t_{name}": Sum(name) for name in kinds},
    )
    assert rollup_totals == CreditEntry.objects.aggregate(
        t_credits=Sum("credits"),
        t_released=Sum("credits", filter=Q(kind="release")),
        **{f"t_{name}": Count("id", filter=Q(kind=kind)) for name, kind in kinds.items()},
    )


@pytest.mark.django_db
def test_a_refused_booking_adds_nothing_to_the_rollup(member):
    ledger.credit_charge_character(user=member, subject="character:1")
    ledger.credit_charge_character(user=member, subject="character:1")  # already booked
    job = _submit(member, fast=False, key="refused-0001")
    charge = render_services._charge(job)
    ledger.credit_settle(charge=charge, output_seconds=2.0)
    _, created = ledger.credit_release(charge=charge, reason="too late")  # after the settle
    assert not created
    assert CreditEntry.objects.count() == 3
    assert sum(UsageDay.objects.values_list("entries", flat=True)) == 3
    assert UsageDay.objects.aggregate(s=Sum("released_jobs"))["s"] == 0
    assert rollup_differences() == []


@pytest.mark.django_db
def test_conflicting_bulk_inserts_are_refused(member):
    with pytest.raises(ValueError, match="append-only"):
        CreditEntry.objects.bulk_create(
            [entry(member, 1, when=timezone.now())], ignore_conflicts=True
        )


@pytest.mark.django_db
def test_budget_figures_equal_the_ledger_sum_for_any_window(
    settings, admin_user, member, other_member
):
    settings.TIME_ZONE = TZ
    rng = random.Random(7)
    tz = timezone.get_default_timezone()
    first = datetime(2026, 2, 25, tzinfo=tz)
    _random_bookings(rng, [admin_user, member, other_member], first, days=14, steps=120)
    windows = [(first, first + timedelta(days=14)), (first, first)]
    for _ in range(40):  # any instants: whole days from the rollup, the hours at the ends not
        a = first + timedelta(seconds=rng.randrange(-86400, 15 * 86400))
        b = a + timedelta(seconds=rng.choice([1, 3600, 86400, rng.randrange(20 * 86400)]))
        windows.append((a, b))
    for start, end in windows:
        assert selectors.credits_used(user=None, start=start, end=end) == _ledger_sum(start, end)
        for user in (member, other_member):
            assert selectors.credits_used(user=user, start=start, end=end) == _ledger_sum(
                start, end, user
            )
    # And the budget month (whole days), at a moment inside the bookings.
    with _at(first + timedelta(days=10)):
        status = selectors.budget_status(user=member)
        start, end = selectors.month_window()
    assert status.member.used == _ledger_sum(start, end, member)
    assert status.org.used == _ledger_sum(start, end)


@pytest.mark.django_db
def test_a_report_in_another_time_zone_reads_the_ledger(member, book):
    # The rollup's days are UTC days here; this request cuts them in Tokyo (UTC+9).
    book(member, 4, when=datetime.fromisoformat("2026-03-01T16:00:00+00:00"))  # 2 March, Tokyo
    book(member, 6, when=datetime.fromisoformat("2026-03-02T10:00:00+00:00"))
    assert UsageDay.objects.get(day=date(2026, 3, 1)).credits == 4
    with timezone.override("Asia/Tokyo"):
        report = selectors.usage_report(start=date(2026, 3, 1), end=date(2026, 3, 3), group="day")
    assert [row.credits for row in report.series] == [0, 10, 0]
    report = selectors.usage_report(start=date(2026, 3, 1), end=date(2026, 3, 3), group="day")
    assert [row.credits for row in report.series] == [4, 6, 0]


# --- repair ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_rebuild_command_checks_and_repairs_the_rollup(member, other_member, book, capsys):
    now = timezone.now()
    for n in range(6):
        book(member if n % 2 else other_member, n + 1, when=now - timedelta(days=n))
    call_command("usage_rebuild_rollup", "--check")
    assert "matches the ledger" in capsys.readouterr().out

    UsageDay.objects.filter(user=member).update(credits=999)
    UsageDay.objects.filter(user=other_member).first().delete()
    with pytest.raises(CommandError, match="differs from the ledger"):
        call_command("usage_rebuild_rollup", "--check")
    assert len(rollup_differences()) == 4

    call_command("usage_rebuild_rollup")
    assert "Rebuilt the usage rollup: 6 rows" in capsys.readouterr().out
    assert rollup_differences() == []
    assert UsageDay.objects.aggregate(s=Sum("credits"))["s"] == 21


@pytest.mark.django_db
def test_the_data_migration_builds_the_rollup_from_existing_entries(member, other_member):
    """Ledger rows from before the rollup existed (inserted without it) are summed by 0003."""
    from django.apps import apps

    rows = [
        entry(u, n, when=timezone.now() - timedelta(hours=7 * n), kind=k)
        for n in range(1, 30)
        for u, k in ((member, "reserve"), (other_member, "character"))
    ]
    for row in rows:  # plain inserts, as before the rollup existed (not through the service)
        with mock.patch("django.utils.timezone.now", return_value=row.created_at):
            CreditEntry.objects.bulk_create([row])
    assert not UsageDay.objects.exists()
    migration = importlib.import_module("viggle_web.usage.migrations.0003_usage_day")
    migration.build_rollup(apps, types.SimpleNamespace(connection=connection))
    assert UsageDay.objects.exists()
    assert rollup_differences() == []
    assert rollup_rebuild() == UsageDay.objects.count()


# --- concurrency (Postgres) --------------------------------------------------------------------


def _in_thread(target, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("key_exists", [False, True], ids=["new-day-row", "existing-day-row"])
@pytest.mark.django_db(transaction=True)
def test_two_transactions_booking_the_same_day_row_both_count(member, key_exists):
    assert connection.vendor == "postgresql", "the suite runs on Postgres"
    if key_exists:
        ledger.credit_charge_character(user=member, subject="character:before")
    booked = threading.Event()
    errors: list[BaseException] = []
    waited: list[float] = []

    def first() -> None:
        with transaction.atomic():
            ledger.credit_charge_character(user=member, subject="character:a")
            booked.set()
            time.sleep(0.6)  # holds the day row (or its key) until commit

    def second() -> None:
        assert booked.wait(10)
        began = time.monotonic()
        with transaction.atomic():
            ledger.credit_charge_character(user=member, subject="character:b")
        waited.append(time.monotonic() - began)

    threads = [_in_thread(first, errors), _in_thread(second, errors)]
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert waited and waited[0] > 0.3  # serialised on the row lock (or the unique key)
    (row,) = UsageDay.objects.all()
    assert (row.entries, row.credits, row.characters) == (2 + key_exists,) * 3
    assert rollup_differences() == []


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_bookings_leave_the_rollup_equal_to_the_ledger(member, other_member):
    assert connection.vendor == "postgresql", "the suite runs on Postgres"
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def booker(n: int) -> None:
        barrier.wait(10)
        for i in range(20):
            user = member if (n + i) % 2 else other_member
            if i % 3:
                ledger.credit_charge_character(user=user, subject=f"character:{n}:{i}")
            else:  # repeated by every thread: booked once in all
                ledger.credit_charge_template(user=user, subject=f"template:{i}", credits=3)

    threads = [_in_thread(lambda n=n: booker(n), errors) for n in range(6)]
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert rollup_differences() == []
    assert UsageDay.objects.aggregate(s=Sum("credits"))["s"] == _ledger_sum(
        timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=1)
    )
