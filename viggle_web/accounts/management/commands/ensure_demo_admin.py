"""Make sure a demo admin exists for the zero-setup run; print its login.

The password is generated once and kept in var/demo-admin.txt (mode 0600) so every later run
can print it again. Refuses to run in production.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from viggle_web.accounts.models import User


class Command(BaseCommand):
    help = "Create the demo admin for development (DEBUG=true only) and print its login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("ensure_demo_admin is for development only (DEBUG=true).")
        note = Path(settings.BASE_DIR) / "var" / "demo-admin.txt"
        user = User.objects.filter(username=username).first()
        if user is not None and note.exists():
            return
        password = secrets.token_urlsafe(12)
        if user is None:
            user = User(username=username, email=f"{username}@example.com", is_staff=True)
        user.role = User.Role.ADMIN
        user.is_active = True
        user.is_superuser = True
        user.set_password(password)
        user.save()
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(f"Demo login: username {username}  password {password}\n")
        note.chmod(0o600)
        self.stdout.write(f"Created the demo admin. {note.read_text().strip()}")
