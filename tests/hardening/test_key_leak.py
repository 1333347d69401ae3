"""The organisation's Viggle key, upstream job/resource ids and upstream URLs never leave the
server: through the main flows against the simulator (upload, preprocess, a render from the form
to complete, a cancel, a failure, a transient upstream fault while polling, the API flow with a
token, a 500 page with DEBUG off), every response body, header, SSE event, log record and error
page is searched for them.

The key is a recognisable canary that the simulator is told to accept, so a leak of the real
configured key (not just the simulator's development key) would be found.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests.renders.test_render_flow import _post_form
from viggle_web.assets import services as asset_services
from viggle_web.assets import tasks as asset_tasks
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.gateway.services import token_create
from viggle_web.renders import poller, tasks
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)

CANARY = "sk-CANARY-leak-7f3a9c2e51d04b6a"


class Seen:
    """Everything a client could read: bodies, headers, cookies, SSE events."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, response) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        cookies = response.cookies.output() if response.cookies else ""
        if response.streaming:
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        self.items.append((where, f"{headers}\n{cookies}\n{body.decode('latin-1')}"))
        return response

    def text(self, where: str, text: str) -> None:
        self.items.append((where, text))


def _stream_events(client: Client, public_id: str, view: str, count: int = 1) -> list[str]:
    response = client.get(reverse("renders:stream"), {"jobs": public_id, "view": view, "since": ""})
    assert response.status_code == 200
    events, chunks = [], iter(response.streaming_content)
    while len(events) < count:
        chunk = next(chunks).decode()
        if chunk.startswith("id:"):
            events.append(chunk)
    response.close()
    return events


def _wait_final(job: RenderJob, timeout: float = 40.0) -> RenderJob:
    """Run the worker's poll loop in a thread (as in production) until the job is final. The
    loop ends by itself after a few idle seconds, so each wait starts its own."""
    stop = threading.Event()
    thread = threading.Thread(target=poller.run_loop, kwargs={"seconds": timeout, "stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            job.refresh_from_db()
            if job.is_final:
                return job
            assert time.monotonic() < deadline, f"{job.public_id} still {job.status}"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()


def _upstream_side(record: logging.LogRecord) -> bool:
    """Records the simulator (the stand-in for Viggle) and the live server write about their
    own requests: Viggle logs its own paths on its side, that is not a leak of ours."""
    if record.name.startswith(("django.server", "viggle_web.simulator")):
        return True
    request = getattr(record, "request", None)
    return record.name == "django.request" and getattr(request, "path", "").startswith("/_sim/")


def _is_retry_warning(record: logging.LogRecord) -> bool:
    message = str(record.msg)
    return record.name == "viggle_web.viggle" and "failed" in message and "retry" in message


def _log_leaks(records, handler, secrets: dict[str, str]):
    """The key may be in no record at all (not even the simulator's); upstream ids and URLs in
    none of the app's records."""
    leaks = []
    for record in records:
        text = handler.format(record) + repr(record.args)
        for secret, label in secrets.items():
            if secret not in text:
                continue
            if secret != CANARY and _upstream_side(record):
                continue
            leaks.append(f"log {record.name} {record.levelname}: {label}: {text[:300]}")
    return leaks


def test_no_key_upstream_id_or_upstream_url_reaches_a_client_or_a_log(
    viggle_sim, settings, member, member_client, sim_media, caplog, monkeypatch
):
    settings.VIGGLE_API_KEY = CANARY
    viggle_sim.set_keys([CANARY])
    caplog.set_level(logging.DEBUG)
    seen = Seen()

    # Upload: the XHR answer (JSON with the card) and the plain-form redirect.
    with sim_media.png.open("rb") as fh:
        seen.add(
            "upload xhr",
            member_client.post(
                reverse("gallery:upload"), {"file": fh}, HTTP_X_REQUESTED_WITH="XMLHttpRequest"
            ),
        )
    with sim_media.mp4.open("rb") as fh:
        seen.add("upload form", member_client.post(reverse("gallery:upload"), {"file": fh}))
    character = Asset.objects.get(kind="image")
    motion = Asset.objects.get(kind="video")

    # Preprocess: a character, made ready upstream by the worker's task and poll loop.
    seen.add("preprocess", member_client.post(reverse("gallery:preprocess", args=[character.pk])))
    resource = ViggleResource.objects.get(asset=character)
    asset_tasks.resource_submit(resource.pk)
    deadline = time.monotonic() + 30
    while ViggleResource.objects.filter(status__in=asset_services.ACTIVE).exists():
        assert time.monotonic() < deadline, "preprocessing did not finish"
        asset_services.resource_poll_due()
        time.sleep(0.2)
    resource.refresh_from_db()
    assert resource.status == "ready" and resource.upstream_id

    # A render from the form to complete, with a transient upstream fault while it is polled.
    response = seen.add(
        "render form", _post_form(member_client, character, motion, key="leak-key-0001")
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    job = RenderJob.objects.get()
    tasks.job_send(job.pk)
    viggle_sim.fault("503", count=2, path_prefix="/api/render/", method="GET")
    for view in ("row", "detail"):
        for event in _stream_events(member_client, job.public_id, view):
            seen.text(f"sse {view} (in flight)", event)
    job = _wait_final(job)
    assert job.status == "complete", job.error_message
    for view in ("row", "detail"):
        for event in _stream_events(member_client, job.public_id, view):
            seen.text(f"sse {view} (complete)", event)
    for file in ("output", "poster"):
        seen.add(
            f"download {file}",
            member_client.get(reverse("renders:download", args=[job.public_id]), {"file": file}),
        )

    # A cancelled render.
    _post_form(member_client, character, motion, key="leak-key-0002")
    cancelled = RenderJob.objects.get(idempotency_key="leak-key-0002")
    tasks.job_send(cancelled.pk)
    seen.add("cancel", member_client.post(reverse("renders:cancel", args=[cancelled.public_id])))
    assert _wait_final(cancelled).status == "cancelled"

    # A render Viggle fails.
    viggle_sim.set(fail_next_jobs=1)
    _post_form(member_client, character, motion, key="leak-key-0003")
    failed = RenderJob.objects.get(idempotency_key="leak-key-0003")
    tasks.job_send(failed.pk)
    assert _wait_final(failed).status == "failed"

    # The API flow with a personal token.
    api = Client()
    auth = {"Authorization": f"Bearer {token_create(user=member, name='leak').raw}"}
    with sim_media.png.open("rb") as ref, sim_media.mp4.open("rb") as drv:
        created = api.post("/api/render", {"ref_image": ref, "driving_video": drv}, headers=auth)
    seen.add("api create", created)
    assert created.status_code == 200, created.content
    api_job = RenderJob.objects.get(public_id=created.json()["job_id"])
    tasks.job_send(api_job.pk)
    seen.add("api status (in flight)", api.get(f"/api/render/{api_job.public_id}"))
    api_job = _wait_final(api_job)
    assert api_job.status == "complete", api_job.error_message
    status = seen.add("api status", api.get(f"/api/render/{api_job.public_id}")).json()
    seen.add("api download", api.get(status["cdn_url"].replace("http://testserver", "")))
    for path in ("/api/credits", "/api/characters", "/api/scenes"):
        seen.add(f"api {path}", api.get(path, headers=auth))

    # Every page a member reads, now that every job and resource has upstream ids.
    for job_row in RenderJob.objects.all():
        seen.add("detail", member_client.get(reverse("renders:detail", args=[job_row.public_id])))
    for name, args in (
        ("home", []),
        ("renders:list", []),
        ("gallery:index", []),
        ("gallery:detail", [character.pk]),
        ("gallery:card", [character.pk]),
        ("gallery:detail", [motion.pk]),
        ("usage:report", []),
        ("usage:csv", []),
        ("tokens:api_help", []),
    ):
        seen.add(name, member_client.get(reverse(name, args=args)))

    # A 500 with DEBUG off: the error page and the log record of the crash.
    settings.DEBUG = False
    crashing = Client(raise_request_exception=False)
    crashing.force_login(member)

    def crash(*args, **kwargs):
        raise RuntimeError("the job list could not be read")

    monkeypatch.setattr("viggle_web.renders.views.selectors.job_list", crash)
    error = seen.add("500 page", crashing.get(reverse("renders:list")))
    assert error.status_code == 500

    # What must not be anywhere.
    jobs = list(RenderJob.objects.all())
    secrets = {CANARY: "the Viggle key", viggle_sim.base_url: "the upstream base URL"}
    for row in jobs:
        for value in (row.upstream_job_id, row.upstream_cdn_url, row.upstream_mask_url):
            if value:
                secrets[value] = f"upstream id/URL of {row.public_id}"
    for row in ViggleResource.objects.exclude(upstream_id=""):
        secrets[row.upstream_id] = f"upstream id of resource {row.pk}"
    assert sum(1 for j in jobs if j.upstream_job_id) == 4
    assert sum(1 for j in jobs if j.upstream_cdn_url) >= 2

    leaks = [
        f"{where}: {label}"
        for where, text in seen.items
        for secret, label in secrets.items()
        if secret in text
    ]
    leaks += _log_leaks(caplog.records, caplog.handler, secrets)
    assert not leaks, "\n".join(leaks)
    # The searches saw real content: the render and API flows happened.
    assert len(seen.items) > 25


def test_retry_warnings_do_not_log_upstream_ids(
    viggle_sim, settings, member, member_client, assets, caplog
):
    """Viggle's status endpoint needs no auth, so an upstream job id in a log aggregator is a
    readable video for anyone with log access; the CDN URL likewise."""
    settings.VIGGLE_API_KEY = CANARY
    viggle_sim.set_keys([CANARY])
    caplog.set_level(logging.DEBUG)
    character, motion = assets
    _post_form(member_client, character, motion, key="leak-key-0101")
    job = RenderJob.objects.get()
    tasks.job_send(job.pk)
    viggle_sim.fault("503", count=1, path_prefix="/api/render/", method="GET")
    viggle_sim.fault("503", count=1, path_prefix="/cdn/", method="GET")
    job = _wait_final(job)
    assert job.status == "complete", job.error_message
    secrets = {job.upstream_job_id: "upstream job id", job.upstream_cdn_url: "upstream CDN URL"}
    parts = urlsplit(job.upstream_cdn_url)
    secrets[f"{parts.netloc}{parts.path}"] = "upstream CDN host and path"
    assert any(_is_retry_warning(r) for r in caplog.records), "no retry happened"
    leaks = _log_leaks(caplog.records, caplog.handler, secrets)
    assert not leaks, "\n".join(leaks)
