"""Start-up refuses bad configuration with one clear message (checked in a fresh interpreter,
since settings are read once at import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "x" * 50


def _check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIGGLE_", "DJANGO_"))}
    for key in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "STORAGE_BACKEND"):
        clean.pop(key, None)
    clean.update({"DJANGO_SETTINGS_MODULE": "viggle_web.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_secret_key_refuses_to_start():
    result = _check({"DEBUG": "false", "VIGGLE_API_KEY": "sk-real"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_without_viggle_key_refuses_to_start():
    result = _check({"DEBUG": "false", "SECRET_KEY": GOOD_SECRET, "ALLOWED_HOSTS": "x.example"})
    assert result.returncode != 0
    assert "VIGGLE_API_KEY must be set in production" in result.stderr


def test_a_bad_boolean_is_named():
    result = _check({"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_a_bad_database_url_is_named():
    result = _check({"DEBUG": "true", "DATABASE_URL": "nonsense://"})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_q_retry_must_exceed_timeout():
    result = _check({"DEBUG": "true", "Q_TIMEOUT": "300", "Q_RETRY": "200"})
    assert result.returncode != 0
    assert "Q_RETRY (200) must be greater than Q_TIMEOUT (300)" in result.stderr


def test_secret_key_from_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(GOOD_SECRET)
    result = _check(
        {
            "DEBUG": "false",
            "SECRET_KEY_FILE": str(secret),
            "VIGGLE_API_KEY": "sk-real",
            "ALLOWED_HOSTS": "studio.example.com",
        }
    )
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_in_production():
    result = _check(
        {
            "DEBUG": "false",
            "SECRET_KEY": "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789" * 2,
            "VIGGLE_API_KEY": "sk-real",
            "ALLOWED_HOSTS": "studio.example.com",
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_s3_storage_settings(tmp_path):
    code = (
        "from django.conf import settings; import django; django.setup();"
        "from django.core.files.storage import storages; s = storages['default'];"
        "print(type(s).__name__, s.bucket_name, s.default_acl, s.querystring_auth)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "viggle_web.settings",
            "DEBUG": "true",
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": "team-media",
            "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["S3Storage", "team-media", "private", "True"]


def test_s3_without_bucket_is_refused():
    result = _check({"DEBUG": "true", "STORAGE_BACKEND": "s3"})
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME must be set" in result.stderr


def test_the_connection_pool_is_configured_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "d = s.DATABASES['default']; print(d['CONN_MAX_AGE'], sorted(d['OPTIONS']['pool']))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "viggle_web.settings",
            "DEBUG": "true",
            "DATABASE_URL": "postgres://u@127.0.0.1:9/db",
            "DB_POOL": "true",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(None, 1) == ["0", "['max_size', 'min_size', 'timeout']\n"]


def test_a_pool_with_persistent_connections_is_refused():
    result = _check(
        {
            "DEBUG": "true",
            "DATABASE_URL": "postgres://u@127.0.0.1:9/db",
            "DB_POOL": "true",
            "DB_CONN_MAX_AGE": "60",
        }
    )
    assert result.returncode != 0
    assert "DB_POOL=true needs DB_CONN_MAX_AGE=0" in result.stderr
