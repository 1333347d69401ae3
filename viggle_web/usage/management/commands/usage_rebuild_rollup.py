"""manage.py usage_rebuild_rollup [--check]: rebuild the daily usage rollup from the ledger."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from viggle_web.usage.rollup import rollup_differences, rollup_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the daily usage rollup (UsageDay) from the credit ledger, which stays the source "
        "of truth. Run it after changing TIME_ZONE (the rollup cuts days in it), after editing "
        "or inserting ledger rows by hand, or when --check finds a difference. Bookings wait "
        "while it runs (the ledger is locked against inserts on Postgres)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only compare the rollup with the ledger; exit 1 when they differ.",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args, check: bool, database: str, **options) -> None:
        began = time.perf_counter()
        if check:
            differences = rollup_differences(using=database)
            for diff in differences[:20]:
                self.stdout.write(f"{diff.key}: ledger {diff.ledger} rollup {diff.rollup}")
            if differences:
                raise CommandError(
                    f"The rollup differs from the ledger on {len(differences)} day(s) x member "
                    "x model x mode; run usage_rebuild_rollup without --check to repair it."
                )
            self.stdout.write(
                f"The rollup matches the ledger ({time.perf_counter() - began:.1f}s)."
            )
            return
        rows = rollup_rebuild(using=database)
        self.stdout.write(
            f"Rebuilt the usage rollup: {rows} rows in {time.perf_counter() - began:.1f}s."
        )
