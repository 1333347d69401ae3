"""Reserve, settle and release happen exactly once, even when repeated or raced (Postgres)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.db.models import Sum

from tests.renders.factories import asset_row
from viggle_web.renders import services
from viggle_web.renders.models import RenderJob
from viggle_web.usage import services as ledger
from viggle_web.usage.models import Budget, CreditEntry, OrgBudget
from viggle_web.usage.services import BudgetExceeded


def _submit(owner, *, seconds: float = 2.0, fast: bool = False, key: str = "key-00000001"):
    character = asset_row(owner=owner, kind="image")
    motion = asset_row(owner=owner, kind="video", seconds=seconds)
    return services.job_submit(
        owner=owner,
        idempotency_key=key,
        request=services.RenderRequest(character=character, motion=motion, fast=fast),
    )


def _sum(job) -> int:
    return CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"] or 0


@pytest.mark.django_db
def test_submit_reserves_the_estimate_once(member):
    job = _submit(member, seconds=2.4, fast=True)
    assert job.estimate_credits == 6  # 3 whole seconds x 2 for fast
    again = services.job_submit(
        owner=member,
        idempotency_key="key-00000001",
        request=services.RenderRequest(character=job.character, motion=job.motion, fast=True),
    )
    assert again.pk == job.pk
    assert RenderJob.objects.count() == 1
    assert list(CreditEntry.objects.values_list("kind", "credits")) == [("reserve", 6)]


@pytest.mark.django_db
def test_settle_and_release_are_booked_once_when_repeated(member):
    job = _submit(member, seconds=3.0)
    charge = services._charge(job)
    first, created = ledger.credit_settle(charge=charge, output_seconds=2.5)
    second, created_again = ledger.credit_settle(charge=charge, output_seconds=2.5)
    released, released_created = ledger.credit_release(charge=charge, reason="late")
    assert created and not created_again and not released_created
    assert first.pk == second.pk == released.pk
    assert _sum(job) == 3  # ceil(2.5) = 3 credits, the hold turned into the actual charge
    assert CreditEntry.objects.filter(job=job).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_settle_and_release_leave_exactly_one_final_entry(member):
    assert connection.vendor == "postgresql", "the suite runs on Postgres"
    jobs = [_submit(member, seconds=4.0, key=f"key-race-{i:04d}") for i in range(10)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(kind: str) -> None:
        try:
            barrier.wait()
            for job in jobs:
                charge = services._charge(job)
                if kind == "settle":
                    ledger.credit_settle(charge=charge, output_seconds=4.0)
                else:
                    ledger.credit_release(charge=charge, reason="race")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("settle", "release") * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for job in jobs:
        finals = CreditEntry.objects.filter(job=job, kind__in=["settle", "release"])
        assert finals.count() == 1
        assert _sum(job) in (0, 4)  # released to nothing, or settled to the actual 4 seconds


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_makes_one_job_and_one_reservation(member):
    character = asset_row(owner=member, kind="image")
    motion = asset_row(owner=member, kind="video", seconds=2.0)
    barrier = threading.Barrier(4)
    results: list[int] = []

    def submit() -> None:
        try:
            barrier.wait()
            job = services.job_submit(
                owner=member,
                idempotency_key="double-click-01",
                request=services.RenderRequest(character=character, motion=motion),
            )
            results.append(job.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert RenderJob.objects.count() == 1
    assert CreditEntry.objects.filter(kind="reserve").count() == 1


@pytest.mark.django_db
def test_over_budget_render_is_refused_and_writes_nothing(member):
    Budget.objects.create(user=member, monthly_cap=5)
    _submit(member, seconds=3.0, key="key-first-0001")  # 3 of 5 used
    with pytest.raises(BudgetExceeded) as refused:
        _submit(member, seconds=3.0, key="key-second-001")
    assert "only 2 of 5 left" in refused.value.message
    assert RenderJob.objects.count() == 1
    assert CreditEntry.objects.count() == 1


@pytest.mark.django_db
def test_org_budget_caps_everyone(member, other_member):
    OrgBudget.objects.create(id=1, monthly_cap=4)
    _submit(member, seconds=3.0, key="key-org-000001")
    with pytest.raises(BudgetExceeded) as refused:
        _submit(other_member, seconds=2.0, key="key-org-000002")
    assert "organisation's monthly budget has only 1 of 4 left" in refused.value.message


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_cannot_both_slip_under_the_cap(member):
    Budget.objects.create(user=member, monthly_cap=4)
    character = asset_row(owner=member, kind="image")
    motions = [asset_row(owner=member, kind="video", seconds=3.0) for _ in range(4)]
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def submit(i: int) -> None:
        try:
            barrier.wait()
            services.job_submit(
                owner=member,
                idempotency_key=f"key-cap-{i:05d}",
                request=services.RenderRequest(character=character, motion=motions[i]),
            )
            outcomes.append("ok")
        except BudgetExceeded:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    assert CreditEntry.objects.aggregate(s=Sum("credits"))["s"] == 3
