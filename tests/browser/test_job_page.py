"""The job page as a member watches it: a stage timeline, the time left while rendering, the
status announced to screen readers, credits in one vocabulary; a transparent result previewed on
a checkerboard with its mask; downloads named after the character, motion and day."""

from __future__ import annotations

import re

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.media_factory import make_mp4, make_png
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def start_through_api(live_server, token: str, tmp_path, *, seconds: float, **data: str) -> str:
    with (
        open(make_png(tmp_path / "Hero Pose.png"), "rb") as image,
        open(make_mp4(tmp_path / "Moon Walk.mp4", seconds=seconds), "rb") as video,
    ):
        response = httpx.post(
            f"{live_server.url}/api/render",
            headers={"Authorization": f"Bearer {token}"},
            files={"ref_image": image, "driving_video": video},
            data=data,
            timeout=60,
        )
    assert response.status_code == 200, response.text
    return response.json()["job_id"]


def test_a_transparent_render_shows_its_stages_time_left_and_a_checkerboard_preview(
    page, live_server, viggle_sim, member, password, login, tmp_path, media_root
):
    token = token_create(user=member, name="script").raw
    viggle_sim.set_speed(1.0)  # slow enough to watch the stages and the time left
    worker = QCluster("job-page").start()
    try:
        login("bob", password)
        public_id = start_through_api(
            live_server, token, tmp_path, seconds=2.0, background_mode="transparent"
        )
        page.goto(f"{live_server.url}/renders/{public_id}/")
        status = page.locator("#job-status")
        expect(status.locator("[data-credits]")).to_have_text("2 credits reserved")
        expect(page.get_by_role("list", name="Stages")).to_be_visible()

        seen_eta: set[str] = set()
        seen_current: set[str] = set()
        announced: set[str] = set()
        for _ in range(900):
            # One read of the page as it is now: the live swap can replace an element between
            # a count() and a later inner_text() (which would then wait for one that is gone).
            now = page.evaluate(
                """() => ({
                    status: document.querySelector('#job-status')?.dataset.status,
                    eta: document.querySelector('[data-eta]')?.innerText,
                    current: document.querySelector('.timeline [aria-current=step]')?.innerText,
                    announced: document.querySelector('#live-announcer')?.innerText,
                })"""
            )
            if now["status"] == "complete":
                break
            seen_eta.update([now["eta"]] if now["eta"] else [])
            seen_current.update([now["current"]] if now["current"] else [])
            announced.add(now["announced"] or "")
            page.wait_for_timeout(100)
        expect(status).to_have_attribute("data-status", "complete")
        announced.add(page.locator("#live-announcer").inner_text())
        assert "Rendering" in seen_current, seen_current
        assert any(re.fullmatch(r"about \d+ (s|min) left", text) for text in seen_eta), seen_eta
        assert "Complete" in announced, announced  # the aria-live region said it

        # Every stage done, credits charged (not reserved), seconds shown apart from credits.
        expect(page.locator(".timeline .stage-done")).to_have_count(5)
        expect(status.locator("[data-credits]")).to_have_text("2 credits charged")
        assert "reserved" not in status.inner_text()
        expect(status.locator(".help")).to_contain_text("s of video")

        # The checkerboard preview: the mask's black is see-through, the figure is not.
        preview = page.locator("[data-alpha-preview]")
        expect(preview).to_have_attribute("data-drawn", "1", timeout=15_000)
        alphas = page.evaluate(
            """() => {
                const c = document.querySelector('.alpha-canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let clear = 0, solid = 0;
                for (let i = 3; i < d.length; i += 4) {
                    if (d[i] < 32) clear++; else if (d[i] > 223) solid++;
                }
                return {clear, solid, bg: getComputedStyle(c.parentElement).backgroundImage};
            }"""
        )
        assert alphas["clear"] > 0 and alphas["solid"] > 0, alphas
        assert "gradient" in alphas["bg"]
        page.get_by_role("button", name="Mask").click()
        expect(page.get_by_role("button", name="Mask")).to_have_attribute("aria-pressed", "true")
        expect(page.locator(".preview-video")).to_be_visible()
        expect(page.locator(".preview-video")).to_have_attribute("src", re.compile("file=mask"))
        expect(page.locator(".alpha-canvas")).to_be_hidden()

        # Downloads are named after the character, motion and day.
        day = timezone.localdate().isoformat()
        with page.expect_download() as video:
            page.get_by_role("link", name="Download video").click()
        assert video.value.suggested_filename == f"hero-pose-x-moon-walk-{day}.mp4"
        with page.expect_download() as mask:
            page.get_by_role("link", name="Download mask").click()
        assert mask.value.suggested_filename == f"hero-pose-x-moon-walk-{day}-mask.mp4"
        assert RenderJob.objects.get(public_id=public_id).status == "complete"
    finally:
        worker.stop()


def _open_reserved(page, live_server, token: str, tmp_path, *, seconds: int) -> str:
    """A render started through the API, its page open: its credits read reserved."""
    public_id = start_through_api(live_server, token, tmp_path, seconds=float(seconds))
    page.goto(f"{live_server.url}/renders/{public_id}/")
    expect(page.locator("#job-status [data-credits]")).to_have_text(f"{seconds} credits reserved")
    return public_id


def _listed_refunded(page, live_server, public_id: str, text: str) -> None:
    page.goto(f"{live_server.url}/renders/")
    expect(page.locator(f"#job-{public_id} [data-credits]")).to_have_text(text)


def test_a_cancelled_job_shows_credits_refunded_never_reserved(
    page, live_server, viggle_sim, member, password, login, tmp_path, media_root
):
    token = token_create(user=member, name="script").raw
    viggle_sim.set_speed(0.2)
    worker = QCluster("job-cancel").start()
    try:
        login("bob", password)
        public_id = _open_reserved(page, live_server, token, tmp_path, seconds=3)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel render").click()
        expect(page.locator("#job-status")).to_have_attribute("data-status", "cancelled")
        expect(page.locator("#job-status [data-credits]")).to_have_text("3 credits refunded")
        assert "reserved" not in page.locator("#job-status").inner_text()
        expect(page.locator(".timeline .stage-stopped")).to_have_count(1)
        _listed_refunded(page, live_server, public_id, "3 credits refunded")
    finally:
        worker.stop()


def test_a_job_that_fails_upstream_shows_its_credits_refunded_live(
    page, live_server, viggle_sim, member, password, login, tmp_path, media_root
):
    """Viggle fails the render part-way: the open job page turns failed without a reload and
    its reserved credits read "refunded", on the page and in the list; never "reserved"."""
    token = token_create(user=member, name="script").raw
    viggle_sim.set_speed(0.5)
    viggle_sim.set(fail_next_jobs=1)
    worker = QCluster("job-failed").start()
    try:
        login("bob", password)
        public_id = _open_reserved(page, live_server, token, tmp_path, seconds=2)
        expect(page.locator("#job-status")).to_have_attribute(
            "data-status", "failed", timeout=60_000
        )
        expect(page.locator("#job-status [data-credits]")).to_have_text("2 credits refunded")
        assert "reserved" not in page.locator("#job-status").inner_text()
        expect(page.locator("#job-status")).to_contain_text("could not render")
        _listed_refunded(page, live_server, public_id, "2 credits refunded")
        assert RenderJob.objects.get(public_id=public_id).status == "failed"
    finally:
        worker.stop()
