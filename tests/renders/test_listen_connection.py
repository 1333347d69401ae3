"""The live-status LISTEN connection is made with everything DATABASE_URL says, not only the
host and credentials: sslmode and the other query options reach it as they reach Django's own
connections."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection
from psycopg.conninfo import conninfo_to_dict

from tests.workers import wait_until
from viggle_web.renders import stream

ROOT = Path(__file__).resolve().parents[2]


def test_the_listen_connection_string_keeps_the_urls_options():
    url = (
        "postgres://studio:s3cret@db.example.com:6432/viggle?sslmode=verify-full"
        "&sslrootcert=/etc/ssl/db-ca.pem&connect_timeout=7&application_name=studio-web"
    )
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "viggle_web.settings",
        "DEBUG": "true",
        "DATABASE_URL": url,
        "DB_POOL": "true",
    }
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from viggle_web.renders.stream import listen_conninfo\n"
        "print(listen_conninfo(settings.DATABASES['default']))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert conninfo_to_dict(run.stdout.strip()) == {
        "dbname": "viggle",
        "user": "studio",
        "password": "s3cret",
        "host": "db.example.com",
        "port": "6432",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/db-ca.pem",
        "connect_timeout": "7",
        "application_name": "studio-web",
    }


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.django_db(transaction=True)
def test_the_listen_connection_is_made_with_the_databases_options(settings):
    if connection.vendor != "postgresql":
        pytest.fail("LISTEN needs the Postgres of bin/test")
    name = "viggle-listen-test"
    databases = copy.deepcopy(settings.DATABASES)
    databases["default"].setdefault("OPTIONS", {})["application_name"] = name
    settings.DATABASES = databases

    listener = stream._Listener()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def listen() -> None:
        event = await listener.subscribe(["job-that-never-changes"])
        started.set()
        try:
            await listener.task
        except asyncio.CancelledError:
            pass
        finally:
            listener.unsubscribe(event)

    thread = threading.Thread(target=loop.run_until_complete, args=(listen(),), daemon=True)
    thread.start()
    try:
        assert started.wait(30)

        def listening() -> list[tuple[str, str]]:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT application_name, query FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    [name],
                )
                return cursor.fetchall()

        wait_until(
            lambda: any("LISTEN" in query for _, query in listening()),
            timeout=30,
            message="no LISTEN connection with the database's application_name",
        )
    finally:
        loop.call_soon_threadsafe(lambda: listener.task and listener.task.cancel())
        thread.join(30)
        loop.close()
    assert not thread.is_alive()
