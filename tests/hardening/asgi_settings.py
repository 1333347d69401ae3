"""The test settings with production's database connection settings, for the uvicorn
subprocess of test_sse_connections.py: settings_test turns persistent connections off for the
live server's threads, which would hide what production does under ASGI."""

from viggle_web import settings as production
from viggle_web.settings_test import *  # noqa: F403

# What viggle_web/settings.py makes of DB_CONN_MAX_AGE (settings_test has overwritten the
# shared dict's value with 0 by now, so it is read from the module's own variable).
DATABASES["default"]["CONN_MAX_AGE"] = getattr(production, "_conn_max_age", 60)  # noqa: F405
