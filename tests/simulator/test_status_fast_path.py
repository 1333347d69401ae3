"""The simulator's status fast path (simulator/fastpath.py) answers as the Django view does, and
its buffered calls log stays complete, in arrival order, with each call's own arrival time."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_status_answers_the_same_with_and_without_the_fast_path(viggle_sim, sim_media) -> None:
    viggle_sim.set_speed(0.0001)  # the progress stands still
    job = viggle_sim.render(sim_media)
    url = f"{viggle_sim.base_url}/api/render/{job}"
    fast = httpx.get(url)
    # Any fault in the table sends every request through Django (this one matches nothing).
    viggle_sim.fault("500", count=None, path_prefix="/api/nothing")
    slow = httpx.get(url, headers={"Authorization": f"Bearer {viggle_sim.key}"})
    assert fast.status_code == slow.status_code == 200
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert fast.json() == slow.json() and fast.json()["status"] in ("queued", "processing")
    viggle_sim.clear_faults()
    keyed = httpx.get(url, headers={"Authorization": "Bearer sk-nope"})
    assert keyed.json() == fast.json()
    gets = viggle_sim.calls("GET", "/api/render/")
    assert [(c["status"], c["authorized"], c["has_auth_header"]) for c in gets] == [
        (200, False, False),
        (200, True, True),
        (200, False, True),
    ]


def test_the_calls_log_is_complete_and_in_arrival_order(viggle_sim, sim_media) -> None:
    job = viggle_sim.render(sim_media)
    url = f"{viggle_sim.base_url}/api/render/{job}"
    with httpx.Client() as http:
        for _ in range(20):
            assert http.get(url).status_code == 200
        # A call logged on arrival writes the buffered GETs first.
        http.get(f"{viggle_sim.base_url}/api/credits")  # no key: 401, logged with its answer
        http.delete(url, headers={"Authorization": f"Bearer {viggle_sim.key}"})
        http.get(url)  # cancelled: still the fast path
    log = viggle_sim.calls()
    kinds = [(c["method"], c["path"].split("/")[2]) for c in log]
    assert kinds == [("POST", "render")] + [("GET", "render")] * 20 + [
        ("GET", "credits"),
        ("DELETE", "render"),
        ("GET", "render"),
    ]
    arrivals = [datetime.fromisoformat(c["at"].replace("Z", "+00:00")) for c in log]
    assert arrivals == sorted(arrivals)
    assert log[-1]["status"] == 200 and log[-3]["status"] == 401


def test_a_finished_job_goes_through_the_view(viggle_sim, sim_media) -> None:
    job = viggle_sim.render(sim_media)
    body = viggle_sim.wait_for(job)  # the view settles it and makes the result
    assert body["status"] == "complete" and body["cdn_url"].startswith(viggle_sim.base_url)
    assert httpx.get(body["cdn_url"]).status_code == 200
