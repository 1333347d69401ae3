"""The credit ledger and budgets.

Every chargeable action books signed entries for the member who caused it. The sum of a member's
entries over a period is what they spent (settled renders at their actual seconds, characters at
1 credit) plus what is still held for renders in flight. Exactly-once is a database rule, not a
hope: each (subject, kind) pair is unique, and a render gets at most one final entry (settle or
release).

``UsageDay`` is a daily rollup of the ledger for the reports and budgets: one row per (day in
settings.TIME_ZONE, member, model, mode), added to in the same transaction as every ledger insert
by the one service that inserts entries (``usage.services.ledger_insert``; see
``usage/rollup.py``). The ledger stays the source of truth: ``manage.py usage_rebuild_rollup``
rebuilds the rollup from it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CreditEntryQuerySet(models.QuerySet):
    def bulk_create(
        self,
        objs,
        batch_size=None,
        ignore_conflicts=False,
        update_conflicts=False,
        update_fields=None,
        unique_fields=None,
    ):
        """Conflict options are refused: the ledger is append-only, and skipped rows have no id,
        so the rollup could not count them exactly. Book entries with ``usage.services``."""
        if ignore_conflicts or update_conflicts:
            raise ValueError("The ledger is append-only: book entries with usage.services.")
        return super().bulk_create(objs, batch_size=batch_size)


class CreditEntry(models.Model):
    class Kind(models.TextChoices):
        RESERVE = "reserve", "Reserved on submit"
        SETTLE = "settle", "Settled to actual seconds"
        RELEASE = "release", "Released (failed or cancelled)"
        CHARACTER = "character", "Character preprocess"
        TEMPLATE = "template", "Template import"

    class Mode(models.TextChoices):
        NORMAL = "normal", "Normal"
        FAST = "fast", "Fast"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_entries"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What the entry is about, e.g. "job:42" or "character:17:V4". With kind, unique.
    subject = models.CharField(max_length=80)
    job = models.ForeignKey(
        "renders.RenderJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_entries",
    )
    credits = models.IntegerField(help_text="Signed: positive spends or holds, negative returns.")
    output_seconds = models.FloatField(default=0)
    model = models.CharField(max_length=16, blank=True)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.NORMAL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    note = models.CharField(max_length=200, blank=True)

    objects = CreditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "kind"], name="credit_once_per_subject_kind"
            ),
            models.UniqueConstraint(
                fields=["subject"],
                condition=Q(kind__in=["settle", "release"]),
                name="credit_one_final_entry_per_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "created_at"], name="credit_user_time"),
            models.Index(fields=["created_at", "user", "kind"], name="credit_time_user_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.credits} ({self.subject})"


class UsageDay(models.Model):
    """The ledger summed per day (in settings.TIME_ZONE), member, model and mode: what the
    reports and budgets read for whole days. Every column is a sum or count over the ledger
    entries of its key; ``released_credits`` keeps the ledger's sign (zero or negative)."""

    day = models.DateField()
    # The (user, day) index below serves lookups by member; no separate one on user alone.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    model = models.CharField(max_length=16, blank=True)
    mode = models.CharField(max_length=8, choices=CreditEntry.Mode.choices)
    entries = models.IntegerField(default=0)
    credits = models.IntegerField(default=0)
    output_seconds = models.FloatField(default=0)
    renders = models.IntegerField(default=0, help_text="Settle entries: completed renders.")
    released_jobs = models.IntegerField(default=0, help_text="Release entries.")
    released_credits = models.IntegerField(default=0, help_text="Sum of release entries.")
    characters = models.IntegerField(default=0, help_text="Character entries.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "user", "model", "mode"], name="usage_day_key")
        ]
        indexes = [models.Index(fields=["user", "day"], name="usage_day_user_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.model}/{self.mode}: {self.credits}"


class Budget(models.Model):
    """A member's monthly credit cap. No row, or a null cap, means no limit."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget"
    )
    monthly_cap = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"budget {self.user_id}: {self.monthly_cap}"


class OrgBudget(models.Model):
    """The organisation-wide monthly cap: a single row (id 1), locked while a spend is checked so
    that two concurrent submits cannot both slip under the cap."""

    monthly_cap = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="org_budget_singleton")]

    def __str__(self) -> str:
        return f"organisation budget: {self.monthly_cap}"

    @classmethod
    def load(cls) -> OrgBudget:
        budget, _ = cls.objects.get_or_create(id=1)
        return budget
