"""Browser notifications: a member who switched them on (the notifications page) and granted the
browser's permission is notified when their render finishes, fed by the renders list's live
stream, and when their template import or character preprocessing ends, fed by the gallery's
live fragments (the asset page and the gallery card follow a preparation every 3 s). The worker
is a real qcluster process and Viggle is the simulator over HTTP; window.Notification is wrapped
in an init script to record what the page raised."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.media_factory import make_mp4, make_png
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster
from viggle_web.gateway.services import token_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD = """
(() => {
  window.__notifications = [];
  const Real = window.Notification;
  function Recorded(title, options) {
    window.__notifications.push({ title: title, body: (options || {}).body || "" });
    return new Real(title, options);
  }
  Recorded.requestPermission = Real.requestPermission.bind(Real);
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  window.Notification = Recorded;
})();
"""


def test_a_finished_render_raises_a_browser_notification(
    new_context, live_server, viggle_sim, member, password, tmp_path, media_root
):
    token = token_create(user=member, name="script").raw
    viggle_sim.set_speed(2.0)
    worker = QCluster("notify-browser").start()
    context, page = _opted_in_page(new_context, live_server, password)
    try:
        page.get_by_role("button", name="Send a test notification").click()
        expect(page.locator("[data-notify-permission]")).to_have_text(
            "A test notification was sent."
        )

        page.goto(f"{live_server.url}/renders/")
        assert page.evaluate("window.__notifications.length") >= 0
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
        row = page.locator(f"#job-{response.json()['job_id']}")
        expect(row).to_have_attribute("data-status", "complete", timeout=90_000)
        page.wait_for_function(
            "window.__notifications.some(n => n.title.includes('render complete'))",
            timeout=10_000,
        )
        raised = page.evaluate("window.__notifications")
        done = [n for n in raised if "render complete" in n["title"]]
        assert len(done) == 1, raised  # once, not again on later swaps
        assert "hero" in done[0]["body"] and "walk" in done[0]["body"]
    finally:
        worker.stop()
        context.close()


def _opted_in_page(new_context, live_server, password):
    context = new_context()
    context.grant_permissions(["notifications"], origin=live_server.url)
    context.add_init_script(RECORD)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/notifications/")
    page.get_by_label("Browser notifications when my render").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice-success")).to_contain_text("saved")
    return context, page


def _raised(page, words: str) -> list[dict[str, str]]:
    page.wait_for_function(
        f"window.__notifications.some(n => n.title.includes({words!r}))", timeout=20_000
    )
    return [n for n in page.evaluate("window.__notifications") if words in n["title"]]


def test_a_finished_import_and_a_character_raise_browser_notifications(
    new_context, live_server, viggle_sim, member, password, tmp_path, media_root
):
    worker = QCluster("notify-import").start()
    context, page = _opted_in_page(new_context, live_server, password)
    try:
        # A template import, pasted in the gallery: its page follows it and notifies once.
        page.goto(f"{live_server.url}/gallery/")
        page.get_by_text("Import a template", exact=True).click()
        page.get_by_label("viggle.ai template link or id").fill(str(uuid.uuid4()))
        page.locator(".import-form").get_by_label("Name").fill("Office party")
        page.get_by_role("button", name="Import for 15 credits").click()
        page.wait_for_url(re.compile(r".*/gallery/\d+/$"))
        expect(page.locator("#template-import-status")).to_contain_text("Ready", timeout=60_000)
        done = _raised(page, "template import ready")
        assert len(done) == 1 and done[0]["body"] == "Office party", done

        # A character made from the gallery card: the gallery page itself notifies.
        page.goto(f"{live_server.url}/gallery/")
        page.locator("#upload-input").set_input_files(str(make_png(tmp_path / "mascot.png")))
        expect(page.locator(".upload-row[data-state=done]")).to_have_count(1, timeout=30_000)
        page.locator(".asset-card", has_text="mascot").get_by_role(
            "link", name="Open mascot"
        ).click()
        page.get_by_role("button", name="Make a Viggle character (1 credit)").click()
        page.goto(f"{live_server.url}/gallery/")
        card = page.locator(".asset-card", has_text="mascot")
        expect(card).to_contain_text("Character: Ready", timeout=60_000)
        ready = _raised(page, "character ready")
        assert len(ready) == 1 and ready[0]["body"] == "mascot", ready
    finally:
        worker.stop()
        context.close()


def test_nothing_is_raised_for_a_member_who_did_not_opt_in(
    live_server, viggle_sim, member, password, login, page, media_root
):
    """The opt-in is the member's: without it the same import raises nothing."""
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.add_init_script(RECORD)
    worker = QCluster("notify-none").start()
    try:
        login("bob", password)
        page.goto(f"{live_server.url}/gallery/import/")
        page.get_by_label("viggle.ai template link or id").fill(str(uuid.uuid4()))
        page.get_by_role("button", name="Import for 15 credits").click()
        page.wait_for_url(re.compile(r".*/gallery/\d+/$"))
        expect(page.locator("#template-import-status")).to_contain_text("Ready", timeout=60_000)
        page.wait_for_timeout(500)
        assert page.evaluate("window.__notifications") == []
    finally:
        worker.stop()
