"""The docs' quick-start client (requests), unchanged but for BASE and the key, against the app:
a real qcluster worker sends the job to the simulator, polls it and keeps the result."""

from __future__ import annotations

import av
import pytest
import requests
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from tests.example_client import documented_example
from tests.workers import QCluster
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)

POLL_SECONDS = 0.3  # the docs say 3 s; shortened so the test is quick


@pytest.fixture
def worker(viggle_sim):
    cluster = QCluster("gateway").start()
    yield cluster
    cluster.stop()


def test_the_documented_example_works_unchanged_against_the_app(
    live_server, viggle_sim, worker, sim_media, member, tmp_path
) -> None:
    raw = token_create(user=member, name="quick-start").raw
    out = tmp_path / "output.mp4"
    job_id = documented_example(
        live_server.url,
        raw,
        str(sim_media.png),
        str(sim_media.mp4),
        str(out),
        poll_seconds=POLL_SECONDS,
    )
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert container.format.name.startswith("mov,mp4")
        assert abs(float(stream.duration * stream.time_base) - 2.0) < 0.3
    # An ordinary job of the member's, made through the API, on the renders page.
    job = RenderJob.objects.get(public_id=job_id)
    assert job.owner == member and job.source == "api" and job.status == "complete"
    assert job.output and job.character.uploaded_by == member
    assert job.upstream_job_id != job_id
    page = Client()
    page.force_login(member)
    listing = page.get(reverse("renders:list")).content.decode()
    assert job.public_id in listing
    # Booked to the member in the ledger.
    entries = CreditEntry.objects.filter(user=member, job=job)
    assert set(entries.values_list("kind", flat=True)) == {"reserve", "settle"}
    assert entries.aggregate(total=Sum("credits"))["total"] == 2
    # One upstream job; upstream ids and URLs never reached the script.
    assert len(viggle_sim.creates()) == 1
    status = requests.get(f"{live_server.url}/api/render/{job_id}").json()
    assert job.upstream_job_id not in str(status) and "/_sim/" not in str(status)


def test_the_url_and_options_variants_work_unchanged(
    live_server, viggle_sim, worker, sim_media, media_server, member, tmp_path
) -> None:
    raw = token_create(user=member, name="variants").raw
    (media_server.root / "c.png").write_bytes(sim_media.png.read_bytes())
    (media_server.root / "m.mp4").write_bytes(sim_media.mp4.read_bytes())
    out = tmp_path / "url.mp4"
    url_job = documented_example(
        live_server.url,
        raw,
        "",
        "",
        str(out),
        {
            "ref_image_url": media_server.url("c.png"),
            "driving_video_url": media_server.url("m.mp4"),
            "model": "V3_Preview",
        },
        files=False,
        poll_seconds=POLL_SECONDS,
    )
    with av.open(str(out)) as container:
        assert container.streams.video
    out2 = tmp_path / "solid.mp4"
    solid_job = documented_example(
        live_server.url,
        raw,
        str(sim_media.jpg),
        str(sim_media.mp4),
        str(out2),
        {"background_mode": "solid", "bg_color": "0,255,0", "fast": "true"},
        poll_seconds=POLL_SECONDS,
    )
    with av.open(str(out2)) as container:
        assert container.streams.video
    jobs = {j.public_id: j for j in RenderJob.objects.all()}
    assert jobs[url_job].model == "V3_Preview"
    solid = jobs[solid_job]
    assert (solid.background_mode, solid.bg_color, solid.fast) == ("solid", "0,255,0", True)
    assert solid.estimate_credits == 4
