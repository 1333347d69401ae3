"""In the browser: a member asks for a WebM export on the job page, a real worker makes it, the
section turns to "Ready" live (no reload) with its download; the page's one alpha preview shows
the result over a checkerboard, then over the colour the member picks, and back."""

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

    download = page.get_by_role("link", name="Download WEBM").get_attribute("href")
    assert page.request.get(f"{live_server.url}{download}").headers["content-type"] == "video/webm"

    # One alpha preview on the page (the job page's canvas), not one per section.
    expect(page.locator("[data-alpha-preview]")).to_have_count(1)
    preview = page.locator("[data-alpha-preview]")
    expect(preview).to_have_attribute("data-drawn", "1", timeout=15_000)
    stage = page.locator("[data-alpha-stage]")
    assert stage.evaluate("e => getComputedStyle(e).backgroundImage").startswith("linear-gradient")

    page.get_by_label("Preview colour").fill("#ff0000")
    expect(page.get_by_role("radio", name="Colour")).to_be_checked()
    expect(stage).to_have_attribute("data-backdrop", "#ff0000")
    assert stage.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 0, 0)"
    assert stage.evaluate("e => getComputedStyle(e).backgroundImage") == "none"
    page.get_by_role("radio", name="Checkerboard").check()
    expect(stage).to_have_attribute("data-backdrop", "checker")
    assert stage.evaluate("e => getComputedStyle(e).backgroundImage").startswith("linear-gradient")
