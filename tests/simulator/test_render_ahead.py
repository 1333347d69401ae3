"""The simulator makes a render's output in the seconds before its end (engine.render_ahead, a
thread of its own process), so the status read at the end answers ``complete`` with a video
that already exists, as Viggle's does; a job cancelled after its output was made keeps none."""

from __future__ import annotations

import httpx
import pytest

from tests.viggle_fixtures import SimHelper
from tests.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _prepared(sim: SimHelper, job: str) -> str:
    return sim.jobs()[job]["prepared_output"]


def test_the_output_is_made_before_the_end_and_is_the_one_delivered(viggle_sim, sim_media):
    viggle_sim.set_speed(4.0)  # a 2 s clip renders in 16 s at speed 1: about 4 s here
    job = viggle_sim.render(sim_media)
    wait_until(lambda: _prepared(viggle_sim, job), timeout=30, message="no output made ahead")
    name = _prepared(viggle_sim, job)
    # Made ahead: the job has not ended yet, and says so.
    ahead = httpx.get(f"{viggle_sim.base_url}/api/render/{job}").json()
    assert ahead["status"] in ("queued", "processing") and ahead["cdn_url"] is None
    body = viggle_sim.wait_for(job)
    assert body["status"] == "complete"
    assert body["cdn_url"].endswith(name.rsplit("/", 1)[-1])
    video = httpx.get(body["cdn_url"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


def test_a_job_cancelled_after_its_output_was_made_keeps_none(viggle_sim, sim_media):
    viggle_sim.set_speed(2.0)  # about 8 s: made ahead from 3 s before the end
    job = viggle_sim.render(sim_media)
    wait_until(lambda: _prepared(viggle_sim, job), timeout=30, message="no output made ahead")
    name = _prepared(viggle_sim, job)
    cdn = f"{viggle_sim.base_url}/cdn/{name.removeprefix('simulator/public/')}"
    assert httpx.get(cdn).status_code == 200
    with viggle_sim.client() as client:
        client.render_cancel(job)
    assert httpx.get(f"{viggle_sim.base_url}/api/render/{job}").json()["status"] == "cancelled"
    assert httpx.get(cdn).status_code == 404
