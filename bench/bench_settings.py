"""Production-like settings for the benches' own processes (web, poller, in-process pages).

DEBUG is off (no query log, no debug templates), connections are kept (CONN_MAX_AGE=60, as in
production), and only what a loopback bench cannot have is relaxed: plain HTTP (no TLS
redirect, no secure cookies), the local simulator as "Viggle" (its dev key as VIGGLE_API_KEY,
VIGGLE_BASE_URL given by the bench), and static files served without a collectstatic manifest.
The simulator process itself runs with DEBUG=true: it refuses to start otherwise.
"""

import os

for _name, _value in {
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnop",
    "VIGGLE_SIMULATOR_ENABLED": "false",
    "VIGGLE_API_KEY": "sk-simulator-local-dev",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "ALLOW_PRIVATE_FETCH": "true",
    "LOG_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(_name, _value)

from viggle_web.settings import *  # noqa: E402,F403

STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Bench users log in with a known password; hashing it slowly measures nothing we care about.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
