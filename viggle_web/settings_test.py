"""Settings for the test suite: the real settings module, fed test environment defaults.

Only defaults are set here (an explicit environment still wins), so the test command's
DATABASE_URL (the throwaway Postgres) is what the suite runs on.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-000")
# The app under test is configured as in production: the simulator is not one of its apps (no
# tables, no routes). The tests start it as its own process (tests/viggle_fixtures.py), whose
# environment turns it on.
os.environ.setdefault("VIGGLE_SIMULATOR_ENABLED", "false")
os.environ.setdefault("ALLOW_PRIVATE_FETCH", "true")
os.environ.setdefault("VIGGLE_SIMULATOR_SPEED", "20")
# The simulator runs 20x faster: poll preprocessing as often, so tests wait for no 5 s turns.
os.environ.setdefault("VIGGLE_PREPROCESS_POLL_SECONDS", "0.3")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="viggle-test-media-"))

from viggle_web.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Request threads of the live test server must not keep connections open past the test.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # The smoke run on SQLite (bin/test) starts web and worker processes on the test database:
    # it must be a file beside the configured one, not Django's default in-memory database.
    _name = Path(DATABASES["default"]["NAME"])  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(_name.with_name(f"test_{_name.name}"))}  # noqa: F405
