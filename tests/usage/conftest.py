"""Ledger rows for the usage tests, booked through the ledger's one insert service
(``usage.services.ledger_insert``, which also adds them to the daily rollup), and Viggle's
balance from the simulator over HTTP.

``created_at`` is ``auto_now_add``, so a row is dated by freezing ``timezone.now`` while it is
inserted, the way the services would have booked it at that moment."""

from __future__ import annotations

import itertools
import socket
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from unittest import mock

import pytest
from django.core.cache import cache

from viggle_web.accounts.models import User
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.selectors import BALANCE_CACHE_KEY
from viggle_web.usage.services import ledger_insert

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
    """Booked one batch per timestamp, with the clock frozen at each entry's created_at."""
    by_time: dict[datetime, list[CreditEntry]] = defaultdict(list)
    for item in entries:
        by_time[item.created_at].append(item)
    saved: list[CreditEntry] = []
    for when, batch in by_time.items():
        with mock.patch("django.utils.timezone.now", return_value=when):
            saved += ledger_insert(batch)
    return saved


@pytest.fixture
def book() -> Callable[..., CreditEntry]:
    def do_book(user: User, credits: int, **kwargs) -> CreditEntry:
        return save_entries([entry(user, credits, **kwargs)])[0]

    return do_book


@pytest.fixture(autouse=True)
def viggle_balance(viggle_sim, settings) -> Callable[..., None]:
    """What Viggle's GET /api/credits answers for the report: the simulator's balance, or, with
    ``unreachable=True``, no Viggle at all (a closed port on loopback, no retries)."""

    def set_answer(balance: float | None = None, unreachable: bool = False) -> None:
        if unreachable:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            settings.VIGGLE_BASE_URL = f"http://127.0.0.1:{port}"
            settings.VIGGLE_MAX_RETRIES = 0
        else:
            viggle_sim.set_credits(balance)
        cache.delete(BALANCE_CACHE_KEY)

    set_answer(balance=9000.0)
    return set_answer
