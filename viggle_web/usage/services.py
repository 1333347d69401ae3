"""Writes on the credit ledger. Each transition is booked exactly once: the unique constraints on
CreditEntry refuse a second booking, and these services turn that refusal into "already done"."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.core import errors
from viggle_web.core.audit import audit_record
from viggle_web.usage import signals
from viggle_web.usage.models import Budget, CreditEntry, OrgBudget
from viggle_web.usage.rollup import rollup_add, rollup_subtract
from viggle_web.usage.selectors import budget_status

logger = logging.getLogger(__name__)


class BudgetExceeded(errors.BudgetExceeded):
    """Refused before any upstream call (402). ``message`` says what is left and when it
    resets."""

    def __init__(self, message: str, *, remaining: int, resets_at: datetime) -> None:
        super().__init__(
            message, extra={"remaining": remaining, "resets_at": resets_at.isoformat()}
        )
        self.remaining = remaining
        self.resets_at = resets_at


def credits_for(seconds: float, *, fast: bool) -> int:
    """Viggle bills 1 credit per second of output (whole seconds, rounded up), 2 in fast mode."""
    whole = max(1, math.ceil(round(seconds, 3))) if seconds > 0 else 0
    return whole * (2 if fast else 1)


def budget_enforce(*, user: User, credits: int) -> None:
    """Raise BudgetExceeded when ``credits`` more would pass the member's or the organisation's
    monthly cap. Must run inside the transaction that books the spend: it locks the member row and
    the organisation budget row so concurrent submits are checked one after another."""
    if credits <= 0:
        return
    # The organisation row first, then the member's: every spender queues on the one row while
    # holding nothing else, so a waiter holds no lock that another's commit (its deferred
    # foreign-key checks) could need; with the member row first, two batches deadlocked.
    OrgBudget.load()
    OrgBudget.objects.select_for_update().get(pk=1)
    User.objects.select_for_update().only("pk").get(pk=user.pk)
    status = budget_status(user=user)
    for scope in (status.member, status.org):
        if scope.cap is not None and credits > scope.remaining:
            who = "your" if scope is status.member else "the organisation's"
            resets = timezone.localtime(status.resets_at).strftime("%-d %B %Y")
            raise BudgetExceeded(
                f"This needs {credits} credits but {who} monthly budget has only "
                f"{scope.remaining} of {scope.cap} left. It resets on {resets}.",
                remaining=scope.remaining,
                resets_at=status.resets_at,
            )


class _SpendAnnouncement:
    """The one spend_booked of a transaction: bookings made in it add their members, so a batch
    of a hundred renders announces once, not a hundred times."""

    def __init__(self) -> None:
        self.user_ids: set[int] = set()

    def __call__(self) -> None:
        signals.spend_booked.send(CreditEntry, user_ids=sorted(self.user_ids))


def _announce_spend(user_ids: set[int]) -> None:
    connection = transaction.get_connection()
    # An announcement still waiting for this transaction's commit (a rolled-back savepoint or
    # transaction drops its callbacks, and with them their announcement).
    for _, callback, _ in reversed(connection.run_on_commit):
        if isinstance(callback, _SpendAnnouncement):
            callback.user_ids |= user_ids
            return
    announcement = _SpendAnnouncement()
    announcement.user_ids |= user_ids
    transaction.on_commit(announcement)


def ledger_insert(entries: Sequence[CreditEntry]) -> list[CreditEntry]:
    """Insert new ledger entries and add them to the daily rollup (``UsageDay``) in the same
    transaction: the one place entries are written, so the rollup always equals the ledger.
    Entries are history; changing one needs ``manage.py usage_rebuild_rollup`` afterwards."""
    with transaction.atomic():
        created = CreditEntry.objects.bulk_create(entries)
        rollup_add([entry.pk for entry in created])
        _announce_spend({entry.user_id for entry in created})
    return created


@transaction.atomic
def credit_withdraw_job(*, job_id: int) -> int:
    """Take a render's entries out of the ledger (and its rollup) as if never booked. Only for
    a render that Viggle refused when it was created, so it started nothing and cost nothing,
    and that is being deleted with it: the API for scripts answers Viggle's refusal at create,
    and the script never learns of a job. Returns how many entries went."""
    entries = CreditEntry.objects.filter(job_id=job_id)
    rollup_subtract(entries)
    count, _ = entries.delete()
    return count


def _book(**fields) -> tuple[CreditEntry, bool]:
    """Insert one ledger entry; if the (subject, kind) was booked already, return that one.
    The entry is added to the daily rollup in the same savepoint (``ledger_insert``), so a
    refused insert counts nowhere and a booking always counts."""
    try:
        with transaction.atomic():
            return ledger_insert([CreditEntry(**fields)])[0], True
    except IntegrityError:
        existing = CreditEntry.objects.filter(
            subject=fields["subject"], kind=fields["kind"]
        ).first()
        if existing is None:
            # The other final kind (settle vs release) exists: this transition may not happen.
            return (
                CreditEntry.objects.filter(
                    subject=fields["subject"],
                    kind__in=[CreditEntry.Kind.SETTLE, CreditEntry.Kind.RELEASE],
                ).get(),
                False,
            )
        return existing, False


@dataclass(frozen=True)
class JobCharge:
    """What the ledger needs to know of a render job (kept free of the renders app's model)."""

    job_id: int
    user: User
    estimate: int
    model: str
    fast: bool


def _mode(fast: bool) -> str:
    return CreditEntry.Mode.FAST if fast else CreditEntry.Mode.NORMAL


def credit_reserve(*, charge: JobCharge) -> CreditEntry:
    entry, _ = _book(
        user=charge.user,
        kind=CreditEntry.Kind.RESERVE,
        subject=f"job:{charge.job_id}",
        job_id=charge.job_id,
        credits=charge.estimate,
        model=charge.model,
        mode=_mode(charge.fast),
    )
    return entry


def credit_settle(*, charge: JobCharge, output_seconds: float) -> tuple[CreditEntry, bool]:
    """Turn the hold into the actual charge: books (actual - estimate) so the job's entries sum
    to its actual cost. Returns (entry, created); a repeat returns the first booking."""
    actual = credits_for(output_seconds, fast=charge.fast)
    return _book(
        user=charge.user,
        kind=CreditEntry.Kind.SETTLE,
        subject=f"job:{charge.job_id}",
        job_id=charge.job_id,
        credits=actual - charge.estimate,
        output_seconds=output_seconds,
        model=charge.model,
        mode=_mode(charge.fast),
        note=f"actual {actual} credits for {output_seconds:.2f}s",
    )


def credit_release(*, charge: JobCharge, reason: str) -> tuple[CreditEntry, bool]:
    """Give the hold back (failed or cancelled render). Exactly once, and never after a settle."""
    return _book(
        user=charge.user,
        kind=CreditEntry.Kind.RELEASE,
        subject=f"job:{charge.job_id}",
        job_id=charge.job_id,
        credits=-charge.estimate,
        model=charge.model,
        mode=_mode(charge.fast),
        note=reason[:200],
    )


def credit_charge_character(
    *, user: User, subject: str, note: str = ""
) -> tuple[CreditEntry, bool]:
    """Book the 1 credit a character preprocess costs, to the member who asked for it.
    Call budget_enforce first, in the same transaction."""
    return _book(
        user=user,
        kind=CreditEntry.Kind.CHARACTER,
        subject=subject,
        credits=1,
        note=note[:200],
    )


# --- Budgets -----------------------------------------------------------------------------------


def _check_cap(*, actor: User, monthly_cap: int | None) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only admins can set budgets.")
    if monthly_cap is not None and monthly_cap < 0:
        raise ValidationError({"monthly_cap": "A monthly cap cannot be negative."})


@transaction.atomic
def budget_set(*, actor: User, user: User, monthly_cap: int | None) -> Budget:
    """Set a member's monthly credit cap; ``None`` removes the limit. A cap below what the member
    already spent this month is allowed: it stops further spending until the month resets."""
    _check_cap(actor=actor, monthly_cap=monthly_cap)
    old = Budget.objects.filter(user=user).values_list("monthly_cap", flat=True).first()
    budget, _ = Budget.objects.update_or_create(user=user, defaults={"monthly_cap": monthly_cap})
    logger.info("budget of user %s set to %s by %s", user.pk, monthly_cap, actor.pk)
    if old != monthly_cap:
        audit_record(
            actor=actor,
            action="budget_changed",
            target=f"{user.username}'s monthly cap",
            details={"from": old, "to": monthly_cap},
        )
    return budget


@transaction.atomic
def org_budget_set(*, actor: User, monthly_cap: int | None) -> OrgBudget:
    """Set the organisation-wide monthly cap; ``None`` removes the limit."""
    _check_cap(actor=actor, monthly_cap=monthly_cap)
    old = OrgBudget.objects.filter(pk=1).values_list("monthly_cap", flat=True).first()
    budget, _ = OrgBudget.objects.update_or_create(pk=1, defaults={"monthly_cap": monthly_cap})
    logger.info("organisation budget set to %s by %s", monthly_cap, actor.pk)
    if old != monthly_cap:
        audit_record(
            actor=actor,
            action="budget_changed",
            target="organisation monthly cap",
            details={"from": old, "to": monthly_cap},
        )
    return budget


TEMPLATE_MODEL = "template"  # the ledger's "model" of template imports: their own report row


def credit_charge_template(
    *, user: User, subject: str, credits: int, note: str = ""
) -> tuple[CreditEntry, bool]:
    """Book credits of a template import to the member who imported it: the hold taken before
    the upstream call (subject ``template:<asset>``), or the difference to what Viggle actually
    reserved (``template:<asset>:adjust``). Call budget_enforce first for a hold."""
    return _book(
        user=user,
        kind=CreditEntry.Kind.TEMPLATE,
        subject=subject,
        credits=int(credits),
        model=TEMPLATE_MODEL,
        note=note[:200],
    )


def credit_release_template(*, user: User, subject: str, reason: str) -> tuple[CreditEntry, bool]:
    """Give back everything booked for a template import that did not happen (refused or failed
    upstream). Exactly once per import (the ledger's unique release per subject)."""
    from django.db.models import Sum

    held = (
        CreditEntry.objects.filter(
            kind=CreditEntry.Kind.TEMPLATE, subject__in=[subject, f"{subject}:adjust"]
        ).aggregate(total=Sum("credits"))["total"]
        or 0
    )
    return _book(
        user=user,
        kind=CreditEntry.Kind.RELEASE,
        subject=subject,
        credits=-held,
        model=TEMPLATE_MODEL,
        note=reason[:200],
    )
