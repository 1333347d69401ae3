"""In the browser: a member asks for a WebM export on the job page, a real worker makes it, the
section turns to "Ready" live (no reload), and the preview plays the alpha video over a
checkerboard, then over the colour the member picks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.exports.conftest import gallery, transparent_job  # noqa: F401, F811 - fixtures
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster
from viggle_web.exports.models import Export

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_export_is_made_live_and_previewed_over_a_checkerboard_or_a_colour(
    page,
    live_server,
    transparent_job,  # noqa: F811 - the fixture imported above
    member,
    password,
    login,  # noqa: F811
):
    job = transparent_job
    worker = QCluster("exports-browser").start()
    try:
        login(member.username, password)
        page.goto(f"{live_server.url}/renders/{job.public_id}/")
        page.get_by_role("button", name="Make WebM (VP9 with alpha)").click()
        page.wait_for_url(f"{live_server.url}/renders/{job.public_id}/*")
        page.evaluate("window.__sameDocument = true")
        ready = page.get_by_role("link", name="Download WEBM")
        expect(ready).to_be_visible(timeout=120_000)
        assert page.evaluate("window.__sameDocument === true")  # swapped in by the stream
    finally:
        worker.stop()
    assert Export.objects.get().status == "complete"

    stage = page.locator("[data-alpha-stage]")
    video = stage.locator("video")
    page.wait_for_function(
        "v => v.readyState >= 1 && v.videoWidth > 0", arg=video.element_handle(), timeout=30_000
    )
    assert stage.evaluate("e => getComputedStyle(e).backgroundImage").startswith("linear-gradient")

    page.get_by_label("Preview colour").fill("#ff0000")
    expect(stage).not_to_have_class("alpha-stage checker")
    assert stage.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 0, 0)"
    assert stage.evaluate("e => getComputedStyle(e).backgroundImage") == "none"
    page.get_by_role("radio", name="Checkerboard").check()
    expect(stage).to_have_class("alpha-stage checker")
