"""Django settings for Viggle Studio, read from the environment only (see .env.example).

A bad or missing required value stops start-up with one ImproperlyConfigured message that names
the variable. Development (DEBUG=true) falls back to SQLite and the local Viggle simulator;
production (DEBUG=false) must be given a SECRET_KEY and a real VIGGLE_API_KEY.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from viggle_web.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_required,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY") or "dev-only-insecure-key-do-not-use-in-production"
else:
    SECRET_KEY = env_required("SECRET_KEY", "production (DEBUG=false) needs a long random secret")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long in production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production, e.g. studio.example.com")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Viggle -----------------------------------------------------------------------------------
# Development without a key talks to the project's own simulator (viggle_web.simulator).
VIGGLE_SIMULATOR_ENABLED = env_bool("VIGGLE_SIMULATOR_ENABLED", DEBUG)
if not DEBUG and VIGGLE_SIMULATOR_ENABLED:
    raise ImproperlyConfigured(
        "VIGGLE_SIMULATOR_ENABLED=true is for development only; unset it in production"
    )
VIGGLE_SIMULATOR_DEV_KEY = "sk-simulator-local-dev"  # noqa: S105 - not a secret: the simulator's
VIGGLE_API_KEY = env_str("VIGGLE_API_KEY") or ""
if not VIGGLE_API_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "VIGGLE_API_KEY must be set in production (DEBUG=false): the simulator is for "
            "development only"
        )
    VIGGLE_API_KEY = VIGGLE_SIMULATOR_DEV_KEY
VIGGLE_BASE_URL = (env_str("VIGGLE_BASE_URL") or "").rstrip("/")
if not VIGGLE_BASE_URL:
    VIGGLE_BASE_URL = "http://127.0.0.1:8001" if DEBUG else "https://apis.viggle.ai"
if not VIGGLE_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"VIGGLE_BASE_URL={VIGGLE_BASE_URL!r} must start with https://")
VIGGLE_TIMEOUT_SECONDS = env_float("VIGGLE_TIMEOUT_SECONDS", 30.0, minimum=1.0)
VIGGLE_UPLOAD_TIMEOUT_SECONDS = env_float("VIGGLE_UPLOAD_TIMEOUT_SECONDS", 600.0, minimum=1.0)
VIGGLE_MAX_RETRIES = env_int("VIGGLE_MAX_RETRIES", 4, minimum=0)
# What a template import reserves upstream, shown before the member confirms and held against
# their budget before the call (Viggle's documented example: 15); the answer's credits_reserved
# is then booked (the difference settled).
VIGGLE_TEMPLATE_IMPORT_CREDITS = env_int("VIGGLE_TEMPLATE_IMPORT_CREDITS", 15, minimum=0)
# How often characters, scenes and template imports are polled (Viggle's docs: every 5 s).
VIGGLE_PREPROCESS_POLL_SECONDS = env_float("VIGGLE_PREPROCESS_POLL_SECONDS", 5.0, minimum=0.2)
# Keys the simulator accepts (comma separated); the dev key always works.
VIGGLE_SIMULATOR_KEYS = env_list("VIGGLE_SIMULATOR_KEYS", [VIGGLE_SIMULATOR_DEV_KEY])
VIGGLE_SIMULATOR_SPEED = env_float("VIGGLE_SIMULATOR_SPEED", 1.0, minimum=0.001)
VIGGLE_SIMULATOR_CREDITS = env_int("VIGGLE_SIMULATOR_CREDITS", 10_000, minimum=0)
# Server-side fetches of member-supplied URLs refuse private/loopback/link-local addresses unless
# this is on (development and tests, where the simulator itself lives on loopback).
ALLOW_PRIVATE_FETCH = env_bool("ALLOW_PRIVATE_FETCH", DEBUG)
# Server-side fetches of members' *_url inputs (viggle_web/core/netsafety.py): a total deadline,
# a minimum transfer rate (judged after a few seconds), and fetches in flight per member and in
# total per web process; more are refused at once (429 on the API).
URL_FETCH_TIMEOUT_SECONDS = env_float("URL_FETCH_TIMEOUT_SECONDS", 300.0, minimum=1.0)
URL_FETCH_MIN_BYTES_PER_SECOND = env_int("URL_FETCH_MIN_BYTES_PER_SECOND", 32 * 1024, minimum=1)
URL_FETCH_MAX_IN_FLIGHT = env_int("URL_FETCH_MAX_IN_FLIGHT", 8, minimum=1)
URL_FETCH_MAX_PER_MEMBER = env_int("URL_FETCH_MAX_PER_MEMBER", 2, minimum=1)

# The Viggle-compatible API for members' scripts (viggle_web/gateway).
GATEWAY_RATE_LIMIT_PER_MINUTE = env_int("GATEWAY_RATE_LIMIT_PER_MINUTE", 120, minimum=1)
GATEWAY_PUBLIC_RATE_LIMIT_PER_MINUTE = env_int(
    "GATEWAY_PUBLIC_RATE_LIMIT_PER_MINUTE", 600, minimum=1
)
GATEWAY_DOWNLOAD_MAX_AGE = env_int("GATEWAY_DOWNLOAD_MAX_AGE", 3600, minimum=60)
# Live API tokens a member may hold at once (the rate limit above is per member, not per token).
GATEWAY_TOKENS_PER_MEMBER = env_int("GATEWAY_TOKENS_PER_MEMBER", 10, minimum=1)

# --- Applications ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    # Before django_q: its `qcluster` command is replaced by core's (it stops cleanly on SIGTERM).
    "viggle_web.core",
    "django_q",
    "axes",
    "csp",
    "viggle_web.accounts",
    "viggle_web.viggle",
    "viggle_web.assets",
    "viggle_web.renders",
    "viggle_web.exports",
    "viggle_web.usage",
    "viggle_web.gateway",
    "viggle_web.notify",
    "viggle_web.batches",
]
if VIGGLE_SIMULATOR_ENABLED:
    # The stand-in Viggle, a development tool: only in the process that serves it
    # (`manage.py viggle_simulator`, bin/run), never in production, where its tables are
    # therefore never migrated. The app itself never mounts it (viggle_web/urls.py).
    INSTALLED_APPS.append("viggle_web.simulator")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "viggle_web.core.clientip.ClientAddressMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # With DEBUG too, a missing page is the friendly 404 (Django's technical page otherwise).
    "viggle_web.core.middleware.FriendlyNotFoundMiddleware",
    # A refusal (core.errors.ApplicationError) a view did not handle: a message, then back.
    "viggle_web.core.middleware.ApplicationErrorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failed logins and refuses further tries for a while (password guessing).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_float("LOGIN_COOLOFF_MINUTES", 15.0, minimum=0.1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client's address behind reverse proxies (viggle_web/core/clientip.py, django-ipware): how
# many proxies stand in front of the app, each appending to X-Forwarded-For, and optionally
# their addresses/networks. 0 (the default) ignores X-Forwarded-For: the peer is the client.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
TRUSTED_PROXY_IPS = env_list("TRUSTED_PROXY_IPS", [])
for _proxy in TRUSTED_PROXY_IPS:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXY_IPS: {_proxy!r} is not an IP address or network (e.g. 10.0.0.0/8)"
        )
if TRUSTED_PROXY_IPS and not TRUSTED_PROXY_COUNT:
    raise ImproperlyConfigured("TRUSTED_PROXY_IPS needs TRUSTED_PROXY_COUNT (1 for one proxy)")
# Login throttling counts failures per (username, client address): one address cannot lock a
# member out for everyone else, and behind a proxy each client keeps its own address.
AXES_CLIENT_IP_CALLABLE = "viggle_web.core.clientip.client_ip"

# Content Security Policy: no inline or third-party script anywhere; htmx and our small scripts
# are served from our own static files. Inline style attributes are allowed (progress bars).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

ROOT_URLCONF = "viggle_web.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "viggle_web.notify.context.notify",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

WSGI_APPLICATION = "viggle_web.wsgi.application"
ASGI_APPLICATION = "viggle_web.asgi.application"

# --- Database ----------------------------------------------------------------------------------
_default_db = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
_database_url = env_str("DATABASE_URL") or _default_db
# Persistent connections are off by default: under ASGI Django runs sync code in per-request
# threads, so a kept connection is never reused, only leaked (one per request). DB_POOL=true
# uses psycopg's connection pool instead (Django's advice for ASGI).
_conn_max_age = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
try:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=_conn_max_age)}
except Exception as exc:  # dj_database_url raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL and IMMEDIATE transactions let web, worker and simulator share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = _conn_max_age > 0
    if env_bool("DB_POOL", False):
        if _conn_max_age:
            raise ImproperlyConfigured("DB_POOL=true needs DB_CONN_MAX_AGE=0 (the pool keeps them)")
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2, minimum=0),
            "max_size": env_int("DB_POOL_MAX", 20, minimum=1),
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0, minimum=0.1),
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE") or "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media --------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "var" / "media")
STORAGE_BACKEND = env_choice("STORAGE_BACKEND", "local", ("local", "s3"))
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_required("AWS_STORAGE_BUCKET_NAME", "STORAGE_BACKEND=s3 needs it"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            # Files are never public: every download goes through a permission-checked view.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
# Uploads larger than this go to a temp file, so a 500 MB video never sits in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 500 * 1024 * 1024, minimum=1)
# Whole request bodies, refused at the ASGI layer before Django reads them (viggle_web/bodylimit):
# anonymous requests (no valid session or token), signed-in requests to ordinary views, and
# signed-in requests to upload views (two files of MAX_UPLOAD_BYTES plus the form, by default).
MAX_ANONYMOUS_REQUEST_BYTES = env_int("MAX_ANONYMOUS_REQUEST_BYTES", 64 * 1024, minimum=1024)
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 5 * 1024 * 1024, minimum=1024)
MAX_UPLOAD_REQUEST_BYTES = env_int(
    "MAX_UPLOAD_REQUEST_BYTES", 2 * MAX_UPLOAD_BYTES + 1024 * 1024, minimum=1024
)

# --- Background work (django-q2) ---------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL") or ""
Q_TIMEOUT = env_int("Q_TIMEOUT", 300, minimum=10)
Q_RETRY = env_int("Q_RETRY", Q_TIMEOUT + 60, minimum=11)
if Q_RETRY <= Q_TIMEOUT:
    raise ImproperlyConfigured(
        f"Q_RETRY ({Q_RETRY}) must be greater than Q_TIMEOUT ({Q_TIMEOUT}), or django-q2 "
        "runs a slow task twice"
    )
Q_CLUSTER: dict = {
    "name": env_str("Q_CLUSTER_NAME") or "viggle",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    "max_attempts": 3,
    "queue_limit": 50,
    "bulk": 10,
    "poll": env_float("Q_POLL", 0.5, minimum=0.05),
    "catch_up": False,
    "save_limit": 1000,
    "label": "Background tasks",
    "sync": env_bool("Q_SYNC", False),
}
# The poller (viggle_web/renders/poller.py, one loop in every worker process): how long a
# worker's lease on a job lasts unrenewed (a dead worker's jobs go to another after it), how many
# status requests it keeps in flight, threads for its other work, and most jobs per claim.
RENDER_LEASE_SECONDS = env_int("RENDER_LEASE_SECONDS", 120, minimum=2)
POLLER_CONCURRENCY = env_int("POLLER_CONCURRENCY", 64, minimum=1)
POLLER_SIDE_THREADS = env_int("POLLER_SIDE_THREADS", 4, minimum=1)
POLLER_BATCH = env_int("POLLER_BATCH", 200, minimum=1)
# How long a worker process may take to stop after SIGTERM (viggle_web/core/qworker.py): the
# task it runs ends its turn; after this it is killed and its work left to another worker.
WORKER_STOP_SECONDS = env_float("WORKER_STOP_SECONDS", 5.0, minimum=0.5)
# Alpha exports (viggle_web/exports): a long 1080p export takes minutes, so its task gets its own
# timeout; a copy the broker hands out again after Q_RETRY finds the export leased and returns.
EXPORT_TIMEOUT_SECONDS = env_int("EXPORT_TIMEOUT_SECONDS", 3600, minimum=60)
EXPORT_LEASE_SECONDS = env_int("EXPORT_LEASE_SECONDS", 120, minimum=10)
EXPORT_THREADS = env_int("EXPORT_THREADS", 2, minimum=1)

# Batch renders: at most this many renders (characters x motions) in one batch.
BATCH_MAX_RENDERS = env_int("BATCH_MAX_RENDERS", 100, minimum=1)
# Share links: days a link lasts when the member does not choose (chosen at creation).
SHARE_LINK_DEFAULT_DAYS = env_int("SHARE_LINK_DEFAULT_DAYS", 7, minimum=1)

if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Webhooks and notifications (viggle_web/notify) --------------------------------------------
# The address members open the app at: absolute links in webhook payloads and emails.
SITE_URL = (env_str("SITE_URL") or "http://localhost:8000").rstrip("/")
# Seconds before each retry of a failed delivery (one more attempt per entry). The default
# retries for 24 hours: 9 attempts in all.
try:
    WEBHOOK_RETRY_SCHEDULE = [
        float(s)
        for s in env_list(
            "WEBHOOK_RETRY_SCHEDULE",
            ["5", "60", "300", "1800", "7200", "18000", "36000", "23035"],
        )
    ]
except ValueError:
    raise ImproperlyConfigured("WEBHOOK_RETRY_SCHEDULE must be seconds, separated by commas")
# An endpoint is disabled (and its owner told) after this many failed attempts in a row.
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20, minimum=1)
# One delivery attempt: the whole exchange's deadline and how much of the answer is read.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.5)
WEBHOOK_MAX_RESPONSE_BYTES = env_int("WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024, minimum=1024)
# A worker's claim on an attempt (and on the delivery loop); a killed worker's runs out.
WEBHOOK_LEASE_SECONDS = env_float("WEBHOOK_LEASE_SECONDS", 30.0, minimum=1.0)
# How long one delivery loop runs before it hands over (must be shorter than Q_TIMEOUT).
WEBHOOK_LOOP_SECONDS = env_float("WEBHOOK_LOOP_SECONDS", 50.0, minimum=1.0)
if WEBHOOK_LEASE_SECONDS <= WEBHOOK_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("WEBHOOK_LEASE_SECONDS must be longer than WEBHOOK_TIMEOUT_SECONDS")
if WEBHOOK_LOOP_SECONDS >= Q_TIMEOUT:
    raise ImproperlyConfigured("WEBHOOK_LOOP_SECONDS must be shorter than Q_TIMEOUT")
# Email (notifications, digests, budget alerts): the console in development.
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "Viggle Studio <noreply@localhost>"

# --- Security ----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if env_bool("BEHIND_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Logging -----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors": {"()": "viggle_web.core.logs.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # An idle worker logs nothing: django-q2 says INFO for every scheduled poll-loop task.
        "django-q": {"level": env_str("Q_LOG_LEVEL") or "WARNING"},
        # The development servers' one line per request (the simulator is polled every 3 s).
        "django.server": {"level": env_str("SERVER_LOG_LEVEL") or "WARNING"},
        # A refused request is one line, not a traceback.
        "django.request": {"filters": ["client_errors"]},
    },
}
