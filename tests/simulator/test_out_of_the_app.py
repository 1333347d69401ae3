"""The simulator is a development tool (issue 14 point 9, issue 17): in production it is not
one of the app's apps, so its tables are never migrated and its command does not exist; only a
process started with the simulator enabled has it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIGGLE_", "DEBUG", "DJANGO_SETTINGS", "ALLOW_PRIVATE"))
    }
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "viggle_web.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-like-secret-key-of-forty-characters-0000",
    "VIGGLE_API_KEY": "sk-a-real-looking-key",
    "ALLOWED_HOSTS": "studio.example.com",
}


def test_production_never_migrates_the_simulators_tables(tmp_path) -> None:
    plan = _manage(tmp_path, "migrate", "--plan", **PRODUCTION)
    assert plan.returncode == 0, plan.stderr
    assert "accounts" in plan.stdout  # the plan is real
    assert "simulator" not in plan.stdout
    command = _manage(tmp_path, "viggle_simulator", "--port", "1", **PRODUCTION)
    assert command.returncode != 0
    assert "Unknown command" in command.stderr


def test_a_process_with_the_simulator_enabled_has_it(tmp_path) -> None:
    plan = _manage(tmp_path, "migrate", "--plan", DEBUG="true", VIGGLE_SIMULATOR_ENABLED="true")
    assert plan.returncode == 0, plan.stderr
    assert "simulator.0001_initial" in plan.stdout
