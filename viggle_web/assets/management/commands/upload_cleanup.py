"""Remove resumable uploads nobody touched for a while, with their bytes, and files left in
the incoming directory by uploads cut off by a crash. Run it daily (cron or a worker schedule)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from viggle_web.assets.resumable import resumable_cleanup


class Command(BaseCommand):
    help = "Remove abandoned resumable uploads and stray incoming files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours", type=float, default=24.0, help="untouched for this long (default 24)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        uploads, stray = resumable_cleanup(older_than=timedelta(hours=options["hours"]))
        self.stdout.write(f"removed {uploads} abandoned upload(s) and {stray} stray file(s)")
