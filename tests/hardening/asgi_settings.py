"""The test settings with production's persistent connections (viggle_web/settings.py keeps
connections for 60 s; settings_test turns that off for the live server's threads), for the
uvicorn subprocess of test_sse_connections.py."""

from viggle_web.settings_test import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405 - as dj_database_url.parse(conn_max_age=60)
