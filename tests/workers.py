"""Real django-q2 worker processes for tests: `manage.py qcluster` on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def _database_url() -> str:
    """The URL of the test database, for processes the test starts."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class QCluster:
    """A qcluster subprocess sharing the test's database, media folder and simulator."""

    def __init__(self, name: str = "test", **env: str) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "viggle_web.settings_test",
            "DATABASE_URL": _database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "VIGGLE_BASE_URL": settings.VIGGLE_BASE_URL,
            "VIGGLE_API_KEY": settings.VIGGLE_API_KEY,
            "VIGGLE_MAX_RETRIES": "4",
            "Q_CLUSTER_NAME": "viggle",
            "Q_WORKERS": "2",
            "Q_POLL": "0.2",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self) -> QCluster:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: a worker machine dying mid-flight."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Ask politely, briefly: a running poll loop would hold the worker for its whole turn,
        and leases make an abrupt stop safe anyway."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.kill()

    def stderr(self) -> str:
        if self.process is None or self.process.stderr is None or self.process.poll() is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")[-4000:]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition not reached in time")
        time.sleep(interval)
