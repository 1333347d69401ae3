"""The core path, as a member takes it, on the app deployed as separate processes:

    log in -> upload a character and a motion -> start a render -> the worker sends it and
    polls it to complete -> download the result -> the usage page shows what it cost.

Two layouts, each with its own web server (uvicorn) and qcluster processes on the test database,
talking to the Viggle simulator (its own process, ``viggle_sim``):

- ``one-machine``: what ``bin/run`` starts: local files, the database as django-q2's broker, one
  worker. Marked ``smoke``: bin/test runs it a second time on SQLite, ``bin/run``'s database.
- ``scale-out``: S3 storage on an S3-compatible server (moto's, over HTTP on loopback), the
  Redis broker and two worker processes, as a team that outgrows one machine runs it.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from django.db.models import Sum

from tests.conftest import PASSWORD
from tests.hardening.servers import free_port, uvicorn_server
from tests.media_factory import make_mp4, make_png
from tests.workers import ROOT, QCluster, wait_until
from viggle_web.assets.models import Asset
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.rollup import rollup_differences
from viggle_web.usage.services import credits_for

# Several processes start and a render runs to the end: longer than the suite's default.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

SIM_KEY = "sk-simulator-local-dev"
BUCKET = "viggle-smoke"


@contextmanager
def _process(command: list[str], env: dict[str, str], ready_url: str) -> Iterator[None]:
    """A server process, stopped at the end; ready when ``ready_url`` answers at all."""
    log = Path(env.get("SMOKE_LOG_DIR", "/tmp")) / f"{uuid.uuid4().hex}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
        )
    try:

        def answers() -> bool:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                httpx.get(ready_url, timeout=2)
            except httpx.HTTPError:
                return False
            return True

        wait_until(answers, timeout=60, message=f"{command[2:4]} did not start")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def _s3_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """moto's stand-alone S3-compatible server with an empty bucket; yields the settings."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SMOKE_LOG_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _process(command, env, f"{endpoint}/moto-api/"):
        settings = {
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": "smoke-test-key",
            "AWS_SECRET_ACCESS_KEY": "smoke-test-secret",
        }
        _s3(settings).create_bucket(Bucket=BUCKET)
        yield settings


def _s3(settings: dict[str, str]):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=settings["AWS_S3_ENDPOINT_URL"],
        region_name=settings["AWS_S3_REGION_NAME"],
        aws_access_key_id=settings["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=settings["AWS_SECRET_ACCESS_KEY"],
    )


def _files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


class Member:
    """A member's browser session: cookies, and the CSRF token forms and scripts send."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60)

    def csrf(self) -> str:
        return self.http.cookies["csrftoken"]

    def log_in(self, username: str, password: str) -> httpx.Response:
        self.http.get("/login/")
        return self.http.post(
            "/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self.csrf()},
        )

    def upload(self, path: Path, content_type: str) -> httpx.Response:
        with open(path, "rb") as file:
            return self.http.post(
                "/gallery/upload/",
                files={"file": (path.name, file, content_type)},
                headers={"X-Requested-With": "XMLHttpRequest", "X-CSRFToken": self.csrf()},
            )

    def post_form(self, url: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(url, data={**data, "csrfmiddlewaretoken": self.csrf()})


@pytest.mark.parametrize(
    "layout", [pytest.param("one-machine", marks=pytest.mark.smoke), "scale-out"]
)
def test_a_member_logs_in_uploads_renders_downloads_and_sees_the_cost(
    layout, request, member, media_root, tmp_path, viggle_sim
):
    env: dict[str, str] = {"MEDIA_ROOT": str(media_root), "Q_CLUSTER_NAME": "viggle-smoke"}
    workers = 1
    with ExitStack() as stack:
        if layout == "scale-out":
            s3 = stack.enter_context(_s3_server(tmp_path))
            env.update(s3, REDIS_URL=request.getfixturevalue("redis_url"))
            workers = 2
        env.update(VIGGLE_BASE_URL=viggle_sim.base_url, VIGGLE_API_KEY=SIM_KEY)
        viggle_sim.set_speed(1.0)  # a render of ~12 s: several polls while it is processing
        base = stack.enter_context(uvicorn_server(**env))
        clusters = [QCluster(f"smoke-{n}", **env).start() for n in range(workers)]
        for cluster in clusters:
            stack.callback(cluster.stop)

        browser = Member(base)
        stack.callback(browser.http.close)
        # Log in.
        response = browser.log_in(member.username, PASSWORD)
        assert response.status_code == 302, response.text
        home = browser.http.get("/")
        assert home.status_code == 200
        assert member.username in home.text

        # Upload a character and a motion: each becomes a gallery asset with a preview.
        png = make_png(tmp_path / "dancer.png")
        mp4 = make_mp4(tmp_path / "moves.mp4", seconds=1.0, fps=8)
        character = browser.upload(png, "image/png")
        motion = browser.upload(mp4, "video/mp4")
        assert (character.status_code, motion.status_code) == (201, 201), motion.text
        character_asset = Asset.objects.get(pk=character.json()["asset_id"])
        motion_asset = Asset.objects.get(pk=motion.json()["asset_id"])
        assert motion_asset.duration_seconds == pytest.approx(1.0, abs=0.2)

        # Start a render from the form.
        response = browser.post_form(
            "/renders/new/",
            {
                "character": str(character_asset.pk),
                "motion": str(motion_asset.pk),
                "model": RenderJob.Model.V4,
                "background_mode": RenderJob.Background.ORIGINAL,
                "bg_color": "#00ff00",
                "idempotency_key": uuid.uuid4().hex,
            },
        )
        assert response.status_code == 302, response.text
        job = RenderJob.objects.get(owner=member)
        assert response.headers["location"] == f"/renders/{job.public_id}/"

        # The worker sends it, polls it, records its progress on the way (the page's live
        # status) and copies the result in.
        seen: set[tuple[str, int]] = set()

        def finished() -> bool:
            row = RenderJob.objects.values("status", "progress_pct").get(pk=job.pk)
            seen.add((row["status"], row["progress_pct"]))
            return row["status"] in RenderJob.FINAL

        wait_until(finished, timeout=180, message="the render did not finish")
        job.refresh_from_db()
        assert job.status == RenderJob.Status.COMPLETE, (job.status, job.error_message)
        assert any(
            status == RenderJob.Status.PROCESSING and 0 < progress < 100
            for status, progress in seen
        ), seen
        page = browser.http.get(f"/renders/{job.public_id}/")
        assert page.status_code == 200 and "Complete" in page.text

        # Download the result with the page's link (a permission-checked view).
        link = re.search(r'<a [^>]*href="([^"]+)"[^>]*>Download video<', page.text)
        assert link, page.text
        download = browser.http.get(html.unescape(link.group(1)))
        assert download.status_code == 200
        assert download.content[4:8] == b"ftyp"  # an MP4
        assert len(download.content) == job.output_size

        # The usage page shows what the ledger booked, and the rollup agrees with the ledger.
        booked = CreditEntry.objects.filter(user=member).aggregate(s=Sum("credits"))["s"]
        assert booked == credits_for(job.output_seconds, fast=False) > 0
        usage = browser.http.get("/usage/")
        assert usage.status_code == 200
        shown = re.search(r'data-summary="credits">(\d+)<', usage.text)
        assert shown and int(shown.group(1)) == booked
        assert rollup_differences() == []

        # Where the files went: the bucket, or the local media folder.
        stored = {
            character_asset.file.name,
            character_asset.preview.name,
            motion_asset.file.name,
            motion_asset.preview.name,
            job.output.name,
            job.poster.name,
        }
        assert all(stored)
        if layout == "scale-out":
            listing = _s3(s3).list_objects_v2(Bucket=BUCKET).get("Contents", [])
            assert stored <= {item["Key"] for item in listing}
            assert _files_under(media_root) == set()
        else:
            assert stored <= _files_under(media_root)
