"""A member makes a multi-character render in the browser, start to finish: uploads two images and
makes them Viggle characters, imports a two-person template by pasting its viggle.ai link, sees
its people and length, gives each person a character with the picker, starts the render, watches
it progress live, plays and downloads the MP4, and finds the import and the render on the usage
page under their own kinds. A real qcluster worker talks to the simulator; no fixture writes a
value production computes."""

from __future__ import annotations

import re
import uuid

import av
import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.watch import watch_progress
from tests.media_factory import make_png
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster
from viggle_web.renders.models import RenderJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_two_person_template_render_from_the_gallery(
    page, live_server, viggle_sim, media_root, member, password, login, tmp_path
):
    viggle_sim.set(template_people=2)
    images = [
        make_png(tmp_path / "alice.png"),
        make_png(tmp_path / "bob.png", size=(220, 260)),
    ]
    worker = QCluster("template-browser").start()
    try:
        login(member.username, password)

        # Two characters, made from uploads through the gallery.
        page.goto(f"{live_server.url}/gallery/")
        page.locator("#upload-input").set_input_files([str(p) for p in images])
        expect(page.locator(".upload-row[data-state=done]")).to_have_count(2, timeout=30_000)
        for name in ("alice", "bob"):
            page.goto(f"{live_server.url}/gallery/")
            page.locator(".asset-card", has_text=name).get_by_role(
                "link", name=f"Open {name}"
            ).click()
            page.get_by_role("button", name="Make a Viggle character (1 credit)").click()
            expect(page.locator("#asset-resources")).to_contain_text(
                "Character: Ready", timeout=60_000
            )

        # Import a template by pasting its viggle.ai link; the cost shows before confirming.
        template_id = str(uuid.uuid4())
        page.goto(f"{live_server.url}/gallery/")
        page.get_by_text("Import a template", exact=True).click()
        page.get_by_label("viggle.ai template link or id").fill(
            f"https://viggle.ai/template/{template_id}?from=share"
        )
        confirm = page.get_by_role("button", name="Import for 15 credits")
        expect(confirm).to_be_visible()
        confirm.click()
        page.wait_for_url(re.compile(r".*/gallery/\d+/$"))
        status = page.locator("#template-import-status")
        expect(status).to_contain_text("Ready", timeout=60_000)  # the page follows it live
        expect(status).to_contain_text("length 3.0 s")
        expect(status).to_contain_text("2 people")
        expect(page.locator(".segments li")).to_have_count(2)

        # Map the two people with the picker.
        page.get_by_role("link", name="Render with this").click()
        page.wait_for_url(re.compile(r".*/renders/new/\?motion=\d+"))
        expect(page.locator("#estimate")).to_contain_text("Estimated cost: 3 credits")
        person1 = page.get_by_role("group", name="Person 1 (human)")
        person2 = page.get_by_role("group", name="Person 2 (human)")
        expect(person1.locator(".picker-option img")).to_have_count(2)  # thumbnails
        person1.get_by_text("alice", exact=True).click()
        expect(person1.get_by_role("radio", name=re.compile("^alice"))).to_be_checked()
        # The second person's picker, by keyboard: search, then choose.
        person2.get_by_role("searchbox").fill("bo")
        expect(person2.locator(".picker-option", has_text="alice")).to_be_hidden()
        person2.get_by_role("searchbox").press("Tab")
        page.keyboard.press("ArrowDown")  # from "Keep their look" to the one match left
        expect(person2.get_by_role("radio", name=re.compile("^bob"))).to_be_checked()
        expect(person1.get_by_role("radio", name=re.compile("^alice"))).to_be_checked()

        viggle_sim.set_speed(0.6)  # the render takes ~10 s upstream: long enough to watch
        page.get_by_role("button", name="Start render").click()
        page.wait_for_url(f"{live_server.url}/renders/r_*/")
        page.evaluate("window.__sameDocument = true")
        expect(page.locator("dl.meta")).to_contain_text("Person 1: alice")
        expect(page.locator("dl.meta")).to_contain_text("Person 2: bob")

        seen = watch_progress(page, turns=600)
        assert page.locator("#job-status video").count() == 1, page.content()
        assert page.evaluate("window.__sameDocument") is True  # updated live, no reload
        assert len({v for v in seen if 0 < v < 100}) >= 2, f"progress seen: {sorted(seen)}"

        player = page.locator("#job-status video")
        player.evaluate("video => { video.muted = true; return video.play(); }")
        expect(player).not_to_have_js_property("currentTime", 0, timeout=10_000)

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download video").click()
        path = tmp_path / "group.mp4"
        download_info.value.save_as(path)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert abs(float(stream.duration * stream.time_base) - 3.0) < 0.3
        job = RenderJob.objects.get()
        assert job.status == "complete" and len(job.character_mapping) == 2

        # The usage page: the import and the render, each under its own kind.
        page.goto(f"{live_server.url}{reverse('usage:report')}")
        by_kind = page.locator("#usage-by-model")
        for label, credits in (
            ("Template import", "15"),
            ("V4 Preview · normal", "3"),
            ("Characters", "2"),
        ):
            row = by_kind.locator("tbody tr", has=page.get_by_role("rowheader", name=label))
            expect(row.locator("td").first).to_have_text(credits)
    finally:
        worker.stop()
