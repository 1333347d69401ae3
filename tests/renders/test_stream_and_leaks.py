"""The live stream, and what a member can see during a job's life: no upstream id, URL or key."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.renders.factories import asset_row
from tests.renders.test_render_flow import _post_form
from viggle_web.renders import poller, services, tasks
from viggle_web.renders.models import RenderJob
from viggle_web.renders.stream import JobStream


def _job(owner) -> RenderJob:
    return services.job_submit(
        owner=owner,
        idempotency_key="stream-key-01",
        request=services.RenderRequest(
            character=asset_row(owner=owner, kind="image"),
            motion=asset_row(owner=owner, kind="video"),
        ),
    )


def _read_events(response, count: int) -> list[str]:
    events, chunks = [], iter(response.streaming_content)
    while len(events) < count:
        chunk = next(chunks).decode()
        if chunk.startswith("id:"):
            events.append(chunk)
    response.close()
    return events


@pytest.mark.django_db
def test_the_stream_sends_a_changed_jobs_fragment(member_client, member):
    job = _job(member)
    since = (timezone.now() - timedelta(seconds=5)).isoformat()
    response = member_client.get(
        reverse("renders:stream"), {"jobs": job.public_id, "view": "row", "since": since}
    )
    assert response["Content-Type"] == "text/event-stream"
    (event,) = _read_events(response, 1)
    assert f"event: job-{job.public_id}" in event
    assert f'id="job-{job.public_id}"' in event and "Submitting" in event
    # Every line of the fragment is an SSE data line.
    body = event.split("\n", 2)[2]
    assert all(line.startswith("data: ") for line in body.strip().splitlines())


@pytest.mark.django_db
def test_a_reconnecting_stream_catches_up_from_last_event_id(member_client, member):
    job = _job(member)
    first_id = job.updated_at.isoformat()
    RenderJob.objects.filter(pk=job.pk).update(
        status="processing", progress_pct=42, checkpoint="ref_done", updated_at=timezone.now()
    )
    response = member_client.get(
        reverse("renders:stream"),
        {"jobs": job.public_id, "view": "detail"},
        headers={"Last-Event-ID": first_id},
    )
    (event,) = _read_events(response, 1)
    assert "42%" in event and "Reading motion" in event


@pytest.mark.django_db
def test_stream_parameters_are_validated(member_client):
    assert member_client.get(reverse("renders:stream")).status_code == 400
    bad_view = member_client.get(reverse("renders:stream"), {"jobs": "x", "view": "evil"})
    assert bad_view.status_code == 400


@pytest.mark.django_db
def test_the_stream_changed_query_only_returns_new_changes(member):
    job = _job(member)
    stream = JobStream(public_ids=[job.public_id], since=None, render=lambda j: j.status)
    assert len(stream.changed()) == 1
    assert stream.changed() == []
    RenderJob.objects.filter(pk=job.pk).update(status="queued", updated_at=timezone.now())
    (event,) = stream.changed()
    assert "data: queued" in event


@pytest.mark.django_db(transaction=True)
def test_no_upstream_id_url_or_key_reaches_a_member(member_client, member, assets, viggle_sim):
    character, motion = assets
    _post_form(member_client, character, motion, background_mode="transparent")
    job = RenderJob.objects.get()
    pages = [
        reverse("home"),
        reverse("renders:list"),
        reverse("renders:detail", args=[job.public_id]),
        reverse("renders:new") + f"?character={character.pk}&motion={motion.pk}",
        reverse("gallery:index"),
        reverse("gallery:detail", args=[motion.pk]),
        reverse("gallery:detail", args=[character.pk]),
        reverse("usage:report"),
    ]
    seen: list[str] = []

    def capture() -> None:
        for url in pages:
            response = member_client.get(url)
            assert response.status_code == 200, url
            seen.append(response.content.decode())
        for view in ("row", "detail"):
            response = member_client.get(
                reverse("renders:stream"), {"jobs": job.public_id, "view": view, "since": ""}
            )
            seen.extend(_read_events(response, 1))

    capture()  # pending
    tasks.job_send(job.pk)
    capture()  # queued, upstream id now known
    stop = threading.Event()
    thread = threading.Thread(target=poller.run_loop, kwargs={"seconds": 60, "stop": stop})
    thread.start()
    try:
        for _ in range(300):
            job.refresh_from_db()
            capture()
            if job.is_final:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join()
    job.refresh_from_db()
    assert job.status == "complete" and job.mask  # transparent: a mask was kept too
    capture()
    secrets = [
        job.upstream_job_id,
        job.upstream_cdn_url,
        job.upstream_mask_url,
        viggle_sim.base_url,
        "/_sim/",
        viggle_sim.key,
    ]
    assert all(secrets[:3])
    for body in seen:
        for secret in secrets:
            assert secret not in body
    assert any("Download video" in body for body in seen)
    assert any("Download mask" in body for body in seen)
