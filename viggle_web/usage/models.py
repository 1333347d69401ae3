"""The credit ledger and budgets.

Every chargeable action books signed entries for the member who caused it. The sum of a member's
entries over a period is what they spent (settled renders at their actual seconds, characters at
1 credit) plus what is still held for renders in flight. Exactly-once is a database rule, not a
hope: each (subject, kind) pair is unique, and a render gets at most one final entry (settle or
release).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
