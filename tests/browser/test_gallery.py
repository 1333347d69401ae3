"""A member uploads two images and a video at once, tags one, and finds it by that tag."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from tests.assets.media import make_video
from tests.media_factory import make_jpg, make_png
from viggle_web.assets.models import Asset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_three_files_tag_one_and_filter_by_the_tag(
    page, live_server, login, member, password, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    files = [
        make_png(tmp_path / "hero.png"),
        make_jpg(tmp_path / "villain.jpg", size=(320, 240)),
        make_video(tmp_path / "walk.mp4"),
    ]
    login(member.username, password)
    page.goto(f"{live_server.url}/gallery/")
    assert page.get_by_text("The gallery is empty").is_visible()

    page.locator("#upload-input").set_input_files([str(f) for f in files])

    rows = page.locator(".upload-row")
    # Locator waits, not wait_for_function: the page's CSP forbids eval, as it should.
    expect(page.locator(".upload-row[data-state=done]")).to_have_count(3, timeout=20_000)
    assert rows.count() == 3
    for index in range(3):
        assert rows.nth(index).locator("progress").evaluate("el => el.value") == 100
    cards = page.locator("#asset-grid .asset-card")
    assert cards.count() == 3
    assert not page.locator("#gallery-empty").count()
    # Every card shows its preview (served through the login-checked view).
    for img in page.locator(".asset-card img").all():
        expect(img).to_have_js_property("complete", True)
        expect(img).not_to_have_js_property("naturalWidth", 0)
    assert page.locator(".asset-card img").count() == 3
    assert Asset.objects.count() == 3

    hero = page.locator(".asset-card", has_text="hero")
    hero.get_by_text("Tags", exact=True).click()
    hero.get_by_label("Tags for hero").fill("Main character")
    hero.get_by_role("button", name="Save tags").click()
    page.locator(".asset-card", has_text="#main character").wait_for()

    page.goto(f"{live_server.url}/gallery/")
    page.get_by_label("Tag", exact=True).select_option(label="main character")
    expect(page.locator("#asset-grid .asset-card")).to_have_count(1)
    assert "tag=main" in page.url  # the filter is in the address, so it can be shared
    only = page.locator("#asset-grid .asset-card")
    assert only.locator(".asset-name").inner_text() == "hero"


def test_a_file_dropped_on_the_page_is_uploaded(
    page, live_server, login, member, password, tmp_path
):
    png = make_png(tmp_path / "dropped.png")
    login(member.username, password)
    page.goto(f"{live_server.url}/gallery/")

    page.evaluate(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: "image/png"}));
            const zone = document.querySelector("[data-upload-zone]");
            const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        ["dropped.png", base64.b64encode(png.read_bytes()).decode()],
    )

    page.locator(".upload-row[data-state=done]").wait_for()
    page.locator(".asset-card", has_text="dropped").wait_for()
    assert Asset.objects.get().original_filename == "dropped.png"
