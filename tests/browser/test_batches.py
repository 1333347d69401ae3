"""Batches in the browser: a 2x3 batch started from the gallery runs to complete with a real
worker and the simulator, its grid filling in live (no reload); the ZIP holds the six MP4s with
readable names. A batch over the organisation's budget is refused whole: nothing is written and
nothing reaches Viggle."""

from __future__ import annotations

import io
import zipfile

import av
import pytest
from playwright.sync_api import expect

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster
from viggle_web.batches.models import Batch
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.services import org_budget_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _gallery(member, tmp_path) -> None:
    for i, name in enumerate(("Hero", "Robot")):
        png = make_png(tmp_path / f"{name}.png", size=(256 + 16 * i, 256))
        asset_with_file(owner=member, kind="image", path=png, name=name)
    for i, name in enumerate(("Walk", "Jump", "Spin")):
        mp4 = make_mp4(tmp_path / f"{name}.mp4", seconds=1.0, size=(160 + 16 * i, 120))
        asset_with_file(owner=member, kind="video", path=mp4, name=name)


def _pick_2x3(page) -> None:
    for name in ("Hero", "Robot"):
        page.locator("#pick-characters label", has_text=name).click()
    for name in ("Walk", "Jump", "Spin"):
        page.locator("#pick-motions label", has_text=name).click()
    expect(page.locator("#batch-count")).to_have_text("6")
    expect(page.locator("#batch-total")).to_have_text("6 credits")


@pytest.mark.timeout(240)
def test_a_2x3_batch_from_the_gallery_completes_live_and_zips(
    page, live_server, viggle_sim, member, password, login, tmp_path
):
    _gallery(member, tmp_path)
    viggle_sim.set_speed(3.0)
    worker = QCluster("batches").start()
    try:
        login("bob", password)
        page.goto(f"{live_server.url}/gallery/")
        page.get_by_role("link", name="Batch render").click()
        _pick_2x3(page)
        page.get_by_role("button", name="Start 6 renders").click()
        page.wait_for_url(f"{live_server.url}/batches/b_*/")
        page.evaluate("window.__sameDocument = true")
        cells = page.locator("#batch-grid .batch-cell")
        expect(cells).to_have_count(6)
        # At least one cell was still running when the page loaded: the grid fills in live.
        assert page.locator("#batch-grid .batch-cell[data-status=complete]").count() < 6
        expect(page.locator("#batch-grid .batch-cell[data-status=complete]")).to_have_count(
            6, timeout=180_000
        )
        expect(page.locator("#batch-grid .batch-cell img.poster-thumb")).to_have_count(6)
        # The summary and the buttons followed the cells: all complete, nothing to cancel.
        expect(page.locator("#batch-summary")).to_have_text(
            "6 complete · 0 running · 0 failed · 0 cancelled"
        )
        expect(page.get_by_role("button", name="Cancel all")).to_be_disabled()
        assert page.evaluate("window.__sameDocument") is True  # no reload happened

        with page.expect_download() as download_info:
            page.locator("#batch-zip").click()
        path = tmp_path / "batch.zip"
        download_info.value.save_as(path)
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            assert names == [
                "01_Hero_x_Jump.mp4",
                "02_Robot_x_Jump.mp4",
                "03_Hero_x_Spin.mp4",
                "04_Robot_x_Spin.mp4",
                "05_Hero_x_Walk.mp4",
                "06_Robot_x_Walk.mp4",
            ]
            for name in names:
                with av.open(io.BytesIO(archive.read(name))) as container:
                    assert container.streams.video[0].frames > 0 or container.duration
        assert len(viggle_sim.creates()) == 6
    finally:
        worker.stop()


def test_a_batch_over_the_organisation_budget_is_refused_whole(
    page, live_server, viggle_sim, member, admin_user, password, login, tmp_path
):
    _gallery(member, tmp_path)
    worker = QCluster("batches-refused").start()
    try:
        login("bob", password)
        page.goto(f"{live_server.url}/batches/new/")
        _pick_2x3(page)
        # The cap drops after the form was shown (another member spent, an admin lowered it):
        # the submit is checked again under the locks and the whole batch is refused.
        org_budget_set(actor=admin_user, monthly_cap=5)
        page.get_by_role("button", name="Start 6 renders").click()
        expect(page.locator(".form-errors[role=alert]")).to_contain_text("This needs 6 credits")
        page.wait_for_timeout(2000)  # a worker would have sent anything enqueued by now
        assert Batch.objects.count() == 0
        assert RenderJob.objects.count() == 0
        assert CreditEntry.objects.count() == 0
        assert viggle_sim.creates() == []
    finally:
        worker.stop()
