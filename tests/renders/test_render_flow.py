"""A render from the form to a kept MP4, against the simulator over real HTTP."""

from __future__ import annotations

import threading

import av
import pytest
from django.db.models import Sum
from django.urls import reverse

from viggle_web.renders import poller, tasks
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def _post_form(client, character, motion, **extra):
    data = {
        "character": character.pk,
        "motion": motion.pk,
        "model": "V4_Preview",
        "background_mode": "original",
        "bg_color": "#00ff00",
        "idempotency_key": extra.pop("key", "form-key-0001"),
        **extra,
    }
    return client.post(reverse("renders:new"), data)


def _drive(job: RenderJob, *, seconds: float = 30.0) -> RenderJob:
    """Send the job as the worker's task would, then run the poll loop until it is final."""
    tasks.job_send(job.pk)
    stop = threading.Event()

    def loop() -> None:
        poller.run_loop(seconds=seconds, stop=stop)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        for _ in range(int(seconds * 10)):
            job.refresh_from_db()
            if job.is_final:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        thread.join()
    job.refresh_from_db()
    return job


def test_a_render_goes_from_the_form_to_a_kept_mp4(member_client, member, assets, viggle_sim):
    character, motion = assets
    response = _post_form(member_client, character, motion)
    assert response.status_code == 302
    job = RenderJob.objects.get()
    assert response["Location"] == reverse("renders:detail", args=[job.public_id])
    assert job.status == "pending" and job.estimate_credits == 2

    job = _drive(job)
    assert job.status == "complete", job.error_message
    assert job.output and job.poster
    with job.output.open("rb") as handle, av.open(handle) as container:
        stream = container.streams.video[0]
        assert abs(float(stream.duration * stream.time_base) - 2.0) < 0.3
    assert abs(job.output_seconds - 2.0) < 0.3
    # One upstream job, streamed uploads (no preprocessed ids existed).
    assert len(viggle_sim.creates()) == 1
    # The ledger: reserve 2, settle +0 -> 2 credits for 2 seconds.
    kinds = list(CreditEntry.objects.order_by("id").values_list("kind", "credits"))
    assert kinds == [("reserve", 2), ("settle", 0)]

    download = member_client.get(
        reverse("renders:download", args=[job.public_id]), {"file": "output"}
    )
    assert download.status_code == 200
    assert download["Content-Type"] == "video/mp4"
    body = b"".join(download.streaming_content)
    assert body[4:8] == b"ftyp"


def test_a_double_submit_creates_one_job_and_one_upstream_call(member_client, assets, viggle_sim):
    character, motion = assets
    first = _post_form(member_client, character, motion, key="same-key-0001")
    second = _post_form(member_client, character, motion, key="same-key-0001")
    assert first["Location"] == second["Location"]
    job = RenderJob.objects.get()
    tasks.job_send(job.pk)
    tasks.job_send(job.pk)  # a worker retry of the same task
    assert len(viggle_sim.creates()) == 1
    job.refresh_from_db()
    assert job.status == "queued" and job.upstream_job_id


def test_an_upstream_failure_fails_the_job_and_releases_its_credits(
    member_client, assets, viggle_sim
):
    viggle_sim.set(fail_next_jobs=1)
    character, motion = assets
    _post_form(member_client, character, motion)
    job = _drive(RenderJob.objects.get())
    assert job.status == "failed"
    assert job.error_code == "CS-UORC01-009"
    assert "could not render" in job.error_message
    assert CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"] == 0
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "could not render" in page and "Retry" in page


def test_fast_mode_without_capacity_offers_normal_speed(member_client, assets, viggle_sim):
    viggle_sim.set_capacity(0)
    character, motion = assets
    _post_form(member_client, character, motion, fast="on")
    job = RenderJob.objects.get()
    assert job.estimate_credits == 4
    tasks.job_send(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "CS-UORC01-001"
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "Render at normal speed" in page
    assert "Fast mode has no capacity" in page
    # One click: a new job at normal speed.
    import re

    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = member_client.post(
        reverse("renders:rerun", args=[job.public_id]), {"idempotency_key": key, "fast": "0"}
    )
    new = RenderJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("renders:detail", args=[new.public_id])
    assert new.fast is False and new.estimate_credits == 2


def test_cancel_stops_the_job_upstream_and_releases_credits(member_client, assets, viggle_sim):
    viggle_sim.set_speed(0.05)  # slow enough to cancel mid-flight
    character, motion = assets
    _post_form(member_client, character, motion)
    job = RenderJob.objects.get()
    tasks.job_send(job.pk)
    response = member_client.post(reverse("renders:cancel", args=[job.public_id]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert viggle_sim.calls("DELETE", "/api/render/")
    assert CreditEntry.objects.filter(job=job).aggregate(s=Sum("credits"))["s"] == 0
    # Cancelling twice changes nothing.
    member_client.post(reverse("renders:cancel", args=[job.public_id]))
    assert CreditEntry.objects.filter(job=job).count() == 2


def test_another_member_cannot_cancel_or_delete(client, other_member, member, assets, viggle_sim):
    character, motion = assets
    client.force_login(member)
    _post_form(client, character, motion)
    job = RenderJob.objects.get()
    client.force_login(other_member)
    assert client.post(reverse("renders:cancel", args=[job.public_id])).status_code == 403
    assert client.post(reverse("renders:delete_files", args=[job.public_id])).status_code == 403
    # The team can still see it.
    assert client.get(reverse("renders:detail", args=[job.public_id])).status_code == 200
    job.refresh_from_db()
    assert job.status == "pending"


def test_an_over_budget_render_is_refused_with_no_upstream_call(
    member_client, member, assets, viggle_sim
):
    from viggle_web.usage.models import Budget

    Budget.objects.create(user=member, monthly_cap=1)
    character, motion = assets
    response = _post_form(member_client, character, motion)
    assert response.status_code == 400
    assert "only 1 of 1 left" in response.content.decode()
    assert not RenderJob.objects.exists()
    assert not CreditEntry.objects.exists()
    assert viggle_sim.creates() == []


def test_prepared_assets_render_from_their_viggle_ids_without_uploads(
    member_client, member, assets, viggle_sim
):
    from tests.assets.test_preprocess import poll_until_final
    from viggle_web.assets import services as gallery
    from viggle_web.assets import tasks as gallery_tasks

    character, motion = assets
    for resource in (
        gallery.resource_request(asset=character, user=member),
        gallery.resource_request(asset=motion, user=member, model="V4_Preview"),
    ):
        gallery_tasks.resource_submit(resource.pk)
    poll_until_final()
    character.refresh_from_db()
    assert character.character_id() and motion.scene_id("V4_Preview")
    calls_before = len(viggle_sim.calls())

    _post_form(member_client, character, motion)
    job = _drive(RenderJob.objects.get())
    assert job.status == "complete"
    assert job.upstream_mode == "preprocessed"
    # A V3 render of the same motion has no V3 scene yet: it streams the uploads instead.
    _post_form(member_client, character, motion, key="form-key-v3", model="V3_Preview")
    v3 = _drive(RenderJob.objects.get(model="V3_Preview"))
    assert v3.status == "complete" and v3.upstream_mode == "full_pipeline"
    assert len(viggle_sim.creates()) == 2
    assert len(viggle_sim.calls()) > calls_before
