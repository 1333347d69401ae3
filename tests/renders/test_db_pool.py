"""What `.env.example` recommends, exercised end to end: `DB_POOL=true` in the web app (uvicorn,
ASGI) and in a real `qcluster`, on Postgres, with renders of distinct inputs in flight at once.

django-q2 forks its worker processes from a parent that has used the database; a psycopg pool
that crossed the fork was shared by every child, so concurrent renders got each other's query
results (the wrong files sent upstream, rows lost, tasks never pulled). No pool or connection
may cross a fork (viggle_web/core/forksafe.py). This test checks each job end to end: what was
sent upstream for it (the simulator's record of every job's inputs), its output and its ledger.
"""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db.models import Sum

from tests.conftest import PASSWORD
from tests.media_factory import make_mp4, make_png, probe_mp4
from tests.workers import ROOT, QCluster, _database_url, wait_until
from viggle_web.assets.models import Asset
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)

RENDERS = 12
POOL_ENV = {"DB_POOL": "true", "DB_POOL_MIN": "2", "DB_POOL_MAX": "8", "DB_CONN_MAX_AGE": "0"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pooled_web(viggle_sim) -> Iterator[str]:
    """uvicorn serving the app with DB_POOL=true on the test database; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        **POOL_ENV,
        "DJANGO_SETTINGS_MODULE": "viggle_web.settings_test",
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VIGGLE_BASE_URL": settings.VIGGLE_BASE_URL,
        "VIGGLE_API_KEY": settings.VIGGLE_API_KEY,
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
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not start: {server.stderr.read()!r}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    client.get("/login/")
    token = client.cookies["csrftoken"]
    response = client.post(
        "/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302, response.text[:500]
    return client


def _upload(client: httpx.Client, path: Path, content_type: str) -> int:
    with path.open("rb") as handle:
        response = client.post(
            "/gallery/upload/",
            files={"file": (path.name, handle, content_type)},
            headers={
                "X-Requested-With": "XMLHttpRequest",
                "X-CSRFToken": client.cookies["csrftoken"],
            },
        )
    body = response.json()
    assert response.status_code == 201 and body["ok"] and body["created"], body
    return int(body["asset_id"])


def _render(client: httpx.Client, character: int, motion: int, key: str) -> str:
    response = client.post(
        "/renders/new/",
        data={
            "character": character,
            "motion": motion,
            "model": "V4_Preview",
            "background_mode": "original",
            "idempotency_key": key,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert response.status_code == 302, response.text[:500]
    match = re.search(r"/renders/(r_[\w-]+)/", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def test_pooled_web_and_worker_render_distinct_inputs_concurrently(
    member, tmp_path, viggle_sim, pooled_web
):
    viggle_sim.set_speed(40)
    # Distinct inputs: each character a different size, each motion a different length and
    # size, so a job that got another job's files shows it in its upload, output and ledger.
    images = [make_png(tmp_path / f"char{i}.png", size=(128 + 8 * i, 160)) for i in range(RENDERS)]
    videos = [
        make_mp4(tmp_path / f"motion{i}.mp4", seconds=1.0 + 0.25 * i, size=(96 + 16 * i, 80), fps=8)
        for i in range(RENDERS)
    ]
    worker = QCluster("pooled", Q_WORKERS="4", **POOL_ENV).start()
    try:
        client = _login(pooled_web, member.username)
        with ThreadPoolExecutor(max_workers=RENDERS) as pool:
            characters = list(pool.map(lambda p: _upload(client, p, "image/png"), images))
            motions = list(pool.map(lambda p: _upload(client, p, "video/mp4"), videos))
            public_ids = list(
                pool.map(
                    lambda i: _render(client, characters[i], motions[i], f"pool-render-{i:04d}"),
                    range(RENDERS),
                )
            )
        wait_until(
            lambda: not RenderJob.objects.filter(status__in=RenderJob.ACTIVE).exists(),
            timeout=240,
            message="renders still active after 240 s",
        )
    finally:
        stderr_tail = ""
        worker.stop()
        stderr_tail = worker.stderr()
    assert "Traceback" not in stderr_tail, stderr_tail

    upstream = viggle_sim.jobs()
    assert len(upstream) == RENDERS, "exactly one upstream job per render"
    assert RenderJob.objects.count() == RENDERS
    for i, public_id in enumerate(public_ids):
        job = RenderJob.objects.get(public_id=public_id)
        assert job.status == RenderJob.Status.COMPLETE, (public_id, job.status, job.error_message)
        # Our row holds what the member asked for ...
        assert (job.character_id, job.motion_id) == (characters[i], motions[i])
        character = Asset.objects.get(pk=characters[i])
        motion = Asset.objects.get(pk=motions[i])
        # ... and exactly those files went upstream for this job.
        sent = upstream[job.upstream_job_id]
        assert sent["ref_image_sha256"] == character.sha256, public_id
        assert sent["driving_video_sha256"] == motion.sha256, public_id
        # The output is this job's: its motion's length and frame size.
        facts = probe_mp4(job.output.path)
        source = probe_mp4(videos[i])
        assert (facts.width, facts.height) == (source.width, source.height), public_id
        assert abs(facts.duration - source.duration) < 0.2, public_id
        # The ledger: one hold, one settle, summing to this job's actual seconds.
        kinds = sorted(CreditEntry.objects.filter(job=job).values_list("kind", flat=True))
        assert kinds == ["reserve", "settle"], (public_id, kinds)
        total = CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"]
        assert total == math.ceil(job.output_seconds) == math.ceil(source.duration - 1e-6)
        assert job.estimate_credits == math.ceil(source.duration - 1e-6)


FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import django
    django.setup()
    from django.db import connection

    def backend_pid():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    assert connection.settings_dict["OPTIONS"].get("pool"), "DB_POOL did not configure a pool"
    parent = backend_pid()
    connection.close()  # back to the pool, as django-q2 does before it forks
    child = os.fork()
    if child == 0:
        try:
            mine = backend_pid()
            os.write(1, f"child {mine}\\n".encode())
            connection.close()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    again = backend_pid()
    print(f"parent {parent} {again}", flush=True)
    """
)


def test_no_pooled_connection_crosses_a_fork():
    """A process that used the pool and forks (django-q2's sentinel, gunicorn's master with
    --preload) gives the child no connection of its own: the child opens its own."""
    env = {
        **os.environ,
        **POOL_ENV,
        "DJANGO_SETTINGS_MODULE": "viggle_web.settings_test",
        "DATABASE_URL": _database_url(),
    }
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    pids = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    child = int(pids["child"])
    parent_before, parent_after = (int(p) for p in pids["parent"].split())
    assert child not in (parent_before, parent_after)
