"""Open SSE streams under the real ASGI server must not each pin a database connection: a team's
job pages stay open for hours, and Postgres allows ~100 connections by default.

Runs uvicorn (the production server, ASGI) as a subprocess on the test database with
production's connection settings (tests/hardening/asgi_settings.py), opens streams
with members' session cookies, and counts the database's connections from pg_stat_activity.
Found by bench/load.py (200 streams exhausted a 300-connection server; see docs/reliability.md);
fixed in 367b55d (streams close their connections) and 6e4a675 (no persistent connections by
default: under ASGI they leaked one per request thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from tests.renders.factories import asset_row
from tests.workers import ROOT, _database_url
from viggle_web.renders import services

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = 20


def _run_async(coroutine):
    """asyncio.run in a thread of its own: the browser tests leave Playwright's event loop
    running in the test thread, where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cookie(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _connections() -> int:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"], user=db["USER"], dbname=db["NAME"]
    ) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchone()
    return count


async def _open_streams(base: str, cookie: str, ids: list[str], hold: float) -> list[int]:
    """Open one stream per id, read its first event, hold them all open, count connections."""
    counts: list[int] = []
    ready = asyncio.Event()
    opened: list[str] = []

    async def one(client: httpx.AsyncClient, public_id: str) -> None:
        url = f"{base}/renders/stream/?jobs={public_id}&view=row"
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    opened.append(public_id)
                    if len(opened) == len(ids):
                        ready.set()
                    break
            await asyncio.sleep(hold)

    async with httpx.AsyncClient(cookies={"sessionid": cookie}, timeout=30) as client:
        tasks = [asyncio.create_task(one(client, pid)) for pid in ids]
        await asyncio.wait_for(ready.wait(), timeout=30)
        await asyncio.sleep(1.0)
        counts.append(await asyncio.to_thread(_connections))
        await asyncio.gather(*tasks)
    return counts


@pytest.fixture
def uvicorn_base():
    """uvicorn serving the app (ASGI) on the test database, with production's connections."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.hardening.asgi_settings",
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "viggle_web.asgi:application", "--host", "127.0.0.1"]
        + ["--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def test_open_streams_do_not_each_hold_a_database_connection(member, uvicorn_base) -> None:
    request = services.RenderRequest(
        character=asset_row(owner=member, kind="image"), motion=asset_row(owner=member)
    )
    ids = [
        services.job_submit(
            owner=member, idempotency_key=f"sse-conn-{i:04d}", request=request
        ).public_id
        for i in range(STREAMS)
    ]
    cookie = _cookie(member)
    before = _connections()
    (during,) = _run_async(_open_streams(uvicorn_base, cookie, ids, hold=1.5))
    held = during - before
    # The web process needs a few (the shared LISTEN connection, a stream's query in flight),
    # not one per open stream.
    assert held <= 5, f"{STREAMS} open streams held {held} database connections"


def test_page_requests_do_not_leave_database_connections_open(member, uvicorn_base) -> None:
    cookie = _cookie(member)
    before = _connections()
    with httpx.Client(base_url=uvicorn_base, cookies={"sessionid": cookie}, timeout=30) as web:
        for _ in range(30):
            assert web.get("/renders/").status_code == 200
    time.sleep(1.0)
    held = _connections() - before
    assert held <= 3, f"30 page requests, one after another, left {held} connections open"
