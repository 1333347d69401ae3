"""Ledger rows for the usage tests, made directly in our own database (not mocks).

``created_at`` is ``auto_now_add``, so a row is dated by freezing ``timezone.now`` while it is
inserted, the way the services would have booked it at that moment."""

from __future__ import annotations

import itertools
import types
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from unittest import mock

import pytest
from django.core.cache import cache

from viggle_web.accounts.models import User
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.selectors import BALANCE_CACHE_KEY
from viggle_web.viggle.errors import ViggleError

_subjects = itertools.count(1)


def entry(
    user: User,
    credits: int,
    *,
    when: datetime,
    kind: str = CreditEntry.Kind.RESERVE,
    output_seconds: float = 0.0,
    model: str = "V4_Preview",
    mode: str = CreditEntry.Mode.NORMAL,
    subject: str | None = None,
) -> CreditEntry:
    """An unsaved ledger entry."""
    return CreditEntry(
        user=user,
        kind=kind,
        subject=subject or f"test:{next(_subjects)}",
        credits=credits,
        output_seconds=output_seconds,
        model=model if kind != CreditEntry.Kind.CHARACTER else "",
        mode=mode,
        created_at=when,
    )


def save_entries(entries: Iterable[CreditEntry]) -> list[CreditEntry]:
    """bulk_create, one batch per timestamp, with the clock frozen at each entry's created_at."""
    by_time: dict[datetime, list[CreditEntry]] = defaultdict(list)
    for item in entries:
        by_time[item.created_at].append(item)
    saved: list[CreditEntry] = []
    for when, batch in by_time.items():
        with mock.patch("django.utils.timezone.now", return_value=when):
            saved += CreditEntry.objects.bulk_create(batch, batch_size=1000)
    return saved


@pytest.fixture
def book() -> Callable[..., CreditEntry]:
    def do_book(user: User, credits: int, **kwargs) -> CreditEntry:
        return save_entries([entry(user, credits, **kwargs)])[0]

    return do_book


class FakeClient:
    def __init__(self, balance: float | None = None, error: ViggleError | None = None) -> None:
        self.balance, self.error = balance, error

    def credits(self) -> types.SimpleNamespace:
        if self.error is not None:
            raise self.error
        return types.SimpleNamespace(balance=self.balance)


@pytest.fixture(autouse=True)
def viggle_balance(monkeypatch) -> Callable[..., None]:
    """Set what Viggle's GET /api/credits answers for the report (no network in unit tests)."""

    def set_answer(balance: float | None = None, error: ViggleError | None = None) -> None:
        client = FakeClient(balance, error)
        monkeypatch.setattr("viggle_web.viggle.client.get_client", lambda: client)
        cache.delete(BALANCE_CACHE_KEY)

    set_answer(balance=9000.0)
    return set_answer
