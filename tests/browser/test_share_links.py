"""Share links in the browser: a member shares a render's result (made by a real worker against
the simulator); an anonymous browser opens the link, sees a player and a download and nothing
else (no other asset, member or credit figure), downloads the video; after revocation, and for
another link after its expiry, it gets the "no longer shared" page. Each creation, opening and
revocation is in the audit log."""

from __future__ import annotations

from datetime import timedelta

import av
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster, wait_until
from viggle_web.assets.models import Asset
from viggle_web.core.models import AuditEvent
from viggle_web.renders import services as render_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shared_url(page, asset: Asset, days: str) -> str:
    card = page.locator(f"#asset-{asset.pk}")
    card.get_by_label(f"Days the link lasts for {asset.name}").fill(days)
    card.get_by_role("button", name="Make share link").click()
    page.wait_for_url("**/batches/shares/**")
    return page.locator("#share-links input.share-url").first.input_value()


def test_an_outsider_opens_and_downloads_until_revoked_or_expired(
    page,
    new_context,
    live_server,
    viggle_sim,
    member,
    other_member,
    password,
    login,
    tmp_path,
    monkeypatch,
):
    hero = asset_with_file(
        owner=member, kind="image", path=make_png(tmp_path / "h.png"), name="Hero"
    )
    walk = asset_with_file(
        owner=member, kind="video", path=make_mp4(tmp_path / "w.mp4", seconds=1.0), name="Walk"
    )
    decoy = asset_with_file(
        owner=other_member,
        kind="video",
        path=make_mp4(tmp_path / "d.mp4", seconds=1.0, size=(176, 144)),
        name="Secret Campaign Clip",
    )
    viggle_sim.set_speed(3.0)
    worker = QCluster("shares").start()
    try:
        job = render_services.job_submit(
            owner=member,
            idempotency_key="share-test-0001",
            request=render_services.RenderRequest(character=hero, motion=walk),
        )
        wait_until(
            lambda: Asset.objects.filter(render_result__job=job).exists(),
            timeout=120,
            message="the render's result never reached the gallery",
        )
    finally:
        worker.stop()
    result = Asset.objects.get(render_result__job=job)

    login("bob", password)
    page.goto(f"{live_server.url}/gallery/?show=results")
    url = _shared_url(page, result, "7")
    assert url.startswith(f"{live_server.url}/batches/shared/")

    outsider = new_context(accept_downloads=True)
    anon = outsider.new_page()
    try:
        anon.goto(url)
        expect(anon.locator("#shared-video")).to_be_visible()
        html = anon.content()
        text = anon.locator("body").inner_text()
        names = [hero.name, walk.name, decoy.name, result.name, "bob", "carol", "alice"]
        names += [member.display_name, other_member.display_name, member.email]
        for word in names:
            assert word.lower() not in html.lower(), f"{word!r} is on the shared page"
        assert "credit" not in html.lower()
        assert not any(ch.isdigit() for ch in text), f"a figure is on the shared page: {text!r}"
        assert anon.locator("a").count() == 1  # the download, nothing to navigate to

        with anon.expect_download() as download_info:
            anon.locator("#shared-download").click()
        saved = tmp_path / "shared.mp4"
        download_info.value.save_as(saved)
        with av.open(str(saved)) as container:
            assert container.streams.video[0].frames > 0 or container.duration

        # Revoked: the same link now says so.
        page.locator("#share-links").get_by_role("button", name="Revoke").click()
        expect(page.locator("#share-links")).to_contain_text("Revoked")
        anon.goto(url)
        expect(anon.locator("#shared-gone")).to_contain_text("no longer shared")
        assert anon.locator("#shared-video").count() == 0

        # Another link for one day, opened after the day has passed.
        page.goto(f"{live_server.url}/gallery/?show=results")
        short = _shared_url(page, result, "1")
        assert short != url
        anon.goto(short)
        expect(anon.locator("#shared-video")).to_be_visible()
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(days=1, minutes=1))
        anon.goto(short)
        expect(anon.locator("#shared-gone")).to_be_visible()
        response = anon.request.get(short.rstrip("/") + "/video/")
        assert response.status == 410

        # A collection of results, shared as one link: the outsider sees its result only.
        page.goto(f"{live_server.url}/batches/collections/")
        page.get_by_label("New collection").fill("Client A")
        page.get_by_role("button", name="Make collection").click()
        page.locator("#collection-add label", has_text=result.name).click()
        page.locator("#collection-add label", has_text=decoy.name).click()
        page.get_by_role("button", name="Add to collection").click()
        page.get_by_role("button", name="Make share link").click()
        page.wait_for_url("**/batches/shares/**")
        several = page.locator("#share-links input.share-url").first.input_value()
        anon.goto(several)
        expect(anon.locator("video.shared-video")).to_have_count(1)  # the decoy is no result
        assert decoy.name.lower() not in anon.content().lower()
    finally:
        outsider.close()

    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("share_created") == 3
    assert actions.count("share_revoked") == 1
    assert actions.count("share_opened") == 3  # the live openings; refused ones are not
