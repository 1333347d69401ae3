"""The render form as a member uses it: characters, motions and templates chosen from thumbnail
pickers by mouse, by keyboard or by searching; the colour group only for a solid background, its
hex and R,G,B fields in step, and the colour reaching the job as Viggle's R,G,B."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from viggle_web.renders.models import RenderJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pickers_work_by_keyboard_and_search_and_the_colour_is_solid_only(
    page, live_server, member, password, login, tmp_path, media_root
):
    for n, name in enumerate(["Hero", "Villain", "Sidekick"]):
        path = make_png(tmp_path / f"{name}.png", size=(200 + n * 8, 200))
        asset_with_file(owner=member, kind="image", path=path, name=name)
    asset_with_file(
        owner=member, kind="video", path=make_mp4(tmp_path / "walk.mp4", seconds=2.0), name="Walk"
    )
    asset_with_file(
        owner=member,
        kind="video",
        path=make_mp4(tmp_path / "run.mp4", seconds=1.0, size=(176, 144)),
        name="Run",
    )
    login("bob", password)
    page.goto(f"{live_server.url}/renders/new/")
    characters = page.get_by_role("group", name="Character")
    # Thumbnails, not a bare list of names.
    expect(characters.locator(".picker-option:not(.picker-none) .picker-thumb")).to_have_count(3)

    # Search narrows the cards.
    characters.get_by_role("searchbox").fill("vill")
    expect(characters.locator(".picker-option:visible", has_text="Villain")).to_have_count(1)
    expect(characters.locator(".picker-option:visible", has_text="Hero")).to_have_count(0)
    characters.get_by_role("searchbox").fill("")

    # Keyboard: Tab into the group, arrows choose.
    characters.locator(".picker-option", has_text="Sidekick").click()
    page.keyboard.press("ArrowRight")  # newest first: Sidekick, Villain, Hero
    checked = characters.locator("input[type=radio]:checked")
    expect(checked).to_have_count(1)
    assert "Villain" in checked.evaluate("el => el.closest('label').innerText")
    motions = page.get_by_role("group", name="Motion or template")
    motions.locator(".picker-option", has_text="Run").click()
    motions.locator("input:checked").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#estimate")).to_contain_text("Estimated cost: 2 credits")  # Walk, 2 s
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#estimate")).to_contain_text("Estimated cost: 1 credit")  # Run, 1 s

    # The colour group appears only for a solid background.
    colour = page.get_by_role("group", name="Background colour")
    expect(colour).to_be_hidden()
    page.locator("#id_background_mode").select_option(label="Solid colour")
    expect(colour).to_be_visible()
    page.get_by_label("Hex").fill("#ff8000")
    expect(page.get_by_label("R,G,B")).to_have_value("255,128,0")
    page.get_by_label("R,G,B").fill("10,20,30")
    expect(page.get_by_label("Hex")).to_have_value("#0a141e")
    expect(page.get_by_label("Colour", exact=True)).to_have_value("#0a141e")
    page.locator("#id_background_mode").select_option(label="Original")
    expect(colour).to_be_hidden()
    page.locator("#id_background_mode").select_option(label="Solid colour")

    page.get_by_role("button", name="Start render").click()
    page.wait_for_url(f"{live_server.url}/renders/r_*/")
    job = RenderJob.objects.get()
    assert (job.background_mode, job.bg_color) == ("solid", "10,20,30")
    assert job.motion.name == "Run" and job.character.name == "Villain"
