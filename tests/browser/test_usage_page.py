"""The usage page as an admin uses it: date presets, the chart split by member and by kind, the
per-day table paged; and every empty list says what to do next. Credits come from renders
started through the API and run by a real worker against the simulator."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.media_factory import make_mp4, make_png
from tests.viggle_fixtures import *  # noqa: F403
from tests.workers import QCluster, wait_until
from viggle_web.gateway.services import token_create
from viggle_web.renders.models import RenderJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api_render(base: str, token: str, tmp_path, name: str, seconds: float, **data: str) -> None:
    with (
        open(make_png(tmp_path / f"{name}.png"), "rb") as image,
        open(make_mp4(tmp_path / f"{name}.mp4", seconds=seconds), "rb") as video,
    ):
        response = httpx.post(
            f"{base}/api/render",
            headers={"Authorization": f"Bearer {token}"},
            files={"ref_image": image, "driving_video": video},
            data=data,
            timeout=60,
        )
    assert response.status_code == 200, response.text


def test_presets_split_chart_and_paged_table(
    page,
    live_server,
    viggle_sim,
    admin_user,
    member,
    other_member,
    password,
    login,
    tmp_path,
    media_root,
):
    member.first_name, member.last_name = "Bob", "Builder"
    member.save()
    viggle_sim.set_speed(4.0)
    worker = QCluster("usage").start()
    try:
        api_render(live_server.url, token_create(user=member, name="a").raw, tmp_path, "b", 2.0)
        api_render(
            live_server.url,
            token_create(user=other_member, name="b").raw,
            tmp_path,
            "c",
            1.0,
            fast="true",
        )
        wait_until(
            lambda: RenderJob.objects.filter(status="complete").count() == 2,
            timeout=90,
            message=worker.stderr(),
        )
    finally:
        worker.stop()

    login("alice", password)
    page.goto(f"{live_server.url}/usage/")
    presets = page.get_by_role("navigation", name="Date presets")
    expect(presets.get_by_role("link", name="This month")).to_have_attribute("aria-current", "true")

    today = timezone.localdate()
    presets.get_by_role("link", name="Last 30 days").click()
    start = (today - timedelta(days=29)).isoformat()
    expect(page).to_have_url(f"{live_server.url}/usage/?start={start}&end={today.isoformat()}")
    expect(
        page.get_by_role("navigation", name="Date presets").get_by_role("link", name="Last 30 days")
    ).to_have_attribute("aria-current", "true")
    # 30 days, 31 rows a page: one page; a 60-day range pages the per-day table.
    page.goto(
        f"{live_server.url}/usage/?start={(today - timedelta(days=59)).isoformat()}"
        f"&end={today.isoformat()}"
    )
    expect(page.locator("#usage-series tbody tr")).to_have_count(31)
    expect(page.get_by_role("navigation", name="Pages of the per-day table")).to_contain_text(
        "Rows 1–31 of 60"
    )
    page.get_by_role("link", name="Later rows").click()
    expect(page.locator("#usage-series tbody tr")).to_have_count(29)

    page.goto(f"{live_server.url}/usage/")
    page.get_by_label("Split chart by").select_option(label="Member")
    page.get_by_role("button", name="Show").click()
    legend = page.locator("#split-chart .legend")
    expect(legend).to_contain_text("Bob Builder: 2 credits")
    expect(legend).to_contain_text("carol: 2 credits")  # 1 s, fast: twice
    expect(page.locator("#split-chart rect.seg-0")).to_have_count(1)
    expect(page.locator("#split-chart rect.seg-1")).to_have_count(1)

    page.get_by_label("Split chart by").select_option(label="Kind")
    page.get_by_role("button", name="Show").click()
    expect(legend).to_contain_text("V4 Preview · normal: 2 credits")
    expect(legend).to_contain_text("V4 Preview · fast: 2 credits")

    page.get_by_role("navigation", name="Date presets").get_by_role(
        "link", name="Last month"
    ).click()
    empty = page.locator("#usage-empty")
    expect(empty).to_contain_text("No credits were used")
    expect(empty.get_by_role("link", name="Start a render")).to_be_visible()


EMPTY_LISTS = [
    "/renders/",
    "/gallery/",
    "/usage/",
    "/account/tokens/",
    "/account/tokens/all/",
    "/members/?q=nobody-like-this",
    "/usage/budgets/?q=nobody-like-this",
    "/members/audit/?action=asset_deleted",
    "/gallery/?q=nothing-called-this",
    "/renders/?status=failed",
]


def test_every_empty_list_says_what_to_do_next(page, live_server, admin_user, password, login):
    login("alice", password)
    for path in EMPTY_LISTS:
        page.goto(f"{live_server.url}{path}")
        empty = page.locator(".empty:visible").first
        expect(empty).to_be_visible()
        assert empty.get_by_role("link").count() >= 1, (path, empty.inner_text())
