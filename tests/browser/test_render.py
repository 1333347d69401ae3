"""A member renders in the browser: the progress bar moves, then the player and the download
link appear, all without a reload; the worker is a real qcluster process."""

from __future__ import annotations

import av
import pytest
from playwright.sync_api import expect

from tests.browser.watch import watch_progress
from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster
from viggle_web.assets.models import Asset
from viggle_web.renders.models import RenderJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_render_progress_is_live_and_the_result_downloads(
    page, live_server, viggle_sim, member, password, login, tmp_path
):
    asset_with_file(owner=member, kind="image", path=make_png(tmp_path / "hero.png"), name="Hero")
    asset_with_file(
        owner=member, kind="video", path=make_mp4(tmp_path / "walk.mp4", seconds=2.0), name="Walk"
    )
    viggle_sim.set_speed(1.5)  # ~10 s of upstream work: long enough to watch it move
    worker = QCluster("browser").start()
    try:
        login("bob", password)
        page.goto(f"{live_server.url}/renders/new/")
        page.locator("#picker-character .picker-option", has_text="Hero").click()
        page.locator("#picker-motion .picker-option", has_text="Walk").click()
        expect(page.locator("#estimate")).to_contain_text("Estimated cost: 2 credits")
        page.get_by_role("button", name="Start render").click()
        page.wait_for_url(f"{live_server.url}/renders/r_*/")
        page.evaluate("window.__sameDocument = true")

        seen = watch_progress(page, turns=300)
        assert page.locator("#job-status video").count() == 1, page.content()
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        moving = {value for value in seen if 0 < value < 100}
        assert len(moving) >= 2, f"progress values seen: {sorted(seen)}"

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download video").click()
        path = tmp_path / "result.mp4"
        download_info.value.save_as(path)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert abs(float(stream.duration * stream.time_base) - 2.0) < 0.3
        assert RenderJob.objects.get().status == "complete"
    finally:
        worker.stop()


def test_a_character_and_motion_uploaded_inline_are_chosen_on_the_form(
    page, live_server, member, password, login, tmp_path
):
    hero = make_png(tmp_path / "inline-hero.png")
    walk = make_mp4(tmp_path / "inline-walk.mp4", seconds=3.0)
    login("bob", password)
    page.goto(f"{live_server.url}/renders/new/")
    page.locator("#upload-input").set_input_files([str(hero), str(walk)])
    expect(page.locator(".upload-row[data-state=done]")).to_have_count(2, timeout=20_000)
    character = page.locator(
        f'#picker-character input[value="{Asset.objects.get(kind="image").pk}"]'
    )
    expect(character).to_be_checked()
    expect(page.locator("#estimate")).to_contain_text("Estimated cost: 3 credits")
    expect(page.locator("#picker-motion input[type=radio]:checked")).to_have_count(1)
