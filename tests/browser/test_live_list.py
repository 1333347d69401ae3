"""The renders list is live: a job started after the page loaded (here through the API, as a
script would) appears at the top without a reload and its row follows it to the end, with the
poster, the download link and the credits charged. The worker is a real qcluster process and
Viggle is the simulator over HTTP."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.media_factory import make_mp4, make_png
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_list_picks_up_a_job_started_through_the_api_and_follows_it_to_complete(
    page, live_server, viggle_sim, member, other_member, password, login, tmp_path, media_root
):
    token = token_create(user=other_member, name="script").raw
    viggle_sim.set_speed(2.0)
    worker = QCluster("live-list").start()
    try:
        login("bob", password)
        page.goto(f"{live_server.url}/renders/")
        expect(page.locator(".empty")).to_contain_text("start your first render")
        page.evaluate("window.__sameDocument = true")

        # Another member's script starts a render after the page loaded.
        with (
            open(make_png(tmp_path / "hero.png"), "rb") as image,
            open(make_mp4(tmp_path / "walk.mp4", seconds=2.0), "rb") as video,
        ):
            response = httpx.post(
                f"{live_server.url}/api/render",
                headers={"Authorization": f"Bearer {token}"},
                files={"ref_image": image, "driving_video": video},
                timeout=60,
            )
        assert response.status_code == 200, response.text
        public_id = response.json()["job_id"]
        row = page.locator(f"#job-{public_id}")
        expect(row).to_be_visible(timeout=5_000)  # within a few seconds, no reload
        expect(page.locator(".empty")).to_be_hidden()
        expect(row).to_contain_text("carol")
        expect(row).to_contain_text("via API")

        statuses: set[str] = set()
        for _ in range(600):
            status = row.get_attribute("data-status") if row.count() else None
            if status:
                statuses.add(status)
            if status == "complete":
                break
            page.wait_for_timeout(100)
        assert "complete" in statuses, (statuses, worker.stderr())
        assert statuses & {"pending", "queued", "processing", "finishing"}, statuses
        assert page.evaluate("window.__sameDocument") is True
        expect(page.locator(".job-row")).to_have_count(1)  # not added twice

        # The finished row: poster thumbnail, download link and credits charged.
        job = RenderJob.objects.get(public_id=public_id)
        assert job.status == "complete"
        poster = row.locator("img.poster-thumb")
        expect(poster).to_be_visible()
        assert page.evaluate("img => img.naturalWidth", poster.element_handle()) > 0
        expect(row.get_by_role("link", name="Download")).to_be_visible()
        expect(row.locator("[data-credits]")).to_have_text("2 credits charged")
        with page.expect_download() as download:
            row.get_by_role("link", name="Download").click()
        assert download.value.suggested_filename.endswith(".mp4")

        # The gallery page of the motion it used shows the result the same way.
        page.goto(f"{live_server.url}/gallery/{job.motion_id}/")
        used = page.locator("tr.job-row", has_text="carol")
        expect(used.locator("img.poster-thumb")).to_be_visible()
        expect(used.get_by_role("link", name="Download")).to_be_visible()
    finally:
        worker.stop()


def test_a_job_started_in_another_tab_appears_in_a_filtered_list_only_if_it_matches(
    page, context, live_server, viggle_sim, member, other_member, password, login, tmp_path
):
    """The stream applies the page's own filter: the list filtered to carol does not get bob's
    new job; the list filtered to bob, open in another tab, does."""
    bob_token = token_create(user=member, name="bob-script").raw
    login("bob", password)
    page.goto(f"{live_server.url}/renders/?member={other_member.pk}")
    mine = context.new_page()
    mine.goto(f"{live_server.url}/renders/?member={member.pk}")
    with (
        open(make_png(tmp_path / "hero.png"), "rb") as image,
        open(make_mp4(tmp_path / "walk.mp4", seconds=1.0), "rb") as video,
    ):
        response = httpx.post(
            f"{live_server.url}/api/render",
            headers={"Authorization": f"Bearer {bob_token}"},
            files={"ref_image": image, "driving_video": video},
            timeout=60,
        )
    public_id = response.json()["job_id"]
    expect(mine.locator(f"#job-{public_id}")).to_be_visible(timeout=5_000)
    page.wait_for_timeout(1500)
    expect(page.locator(f"#job-{public_id}")).to_have_count(0)
