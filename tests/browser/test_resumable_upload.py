"""A large upload whose connection drops at about half resumes where it stood (tus, resumable.js)
and the stored file is the member's file, byte for byte."""

from __future__ import annotations

import hashlib
import os

import pytest
from playwright.sync_api import expect

from tests.media_factory import make_mp4
from viggle_web.assets.models import Asset, ResumableUpload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024


def test_an_upload_cut_off_at_half_resumes_from_there(
    page, live_server, login, member, password, tmp_path, media_root
):
    # A real video padded with an MP4 'free' box to 40 MB: five chunks of 8 MB.
    video = make_mp4(tmp_path / "long-take.mp4", seconds=1.0)
    pad = 40 * MB - video.stat().st_size
    with video.open("ab") as fh:
        fh.write(pad.to_bytes(4, "big") + b"free" + os.urandom(pad - 8))
    size = video.stat().st_size
    login(member.username, password)
    page.goto(f"{live_server.url}/gallery/")
    offsets: list[int] = []
    page.on(
        "request",
        lambda r: offsets.append(int(r.headers["upload-offset"])) if r.method == "PATCH" else None,
    )
    # The connection drops under the first chunk sent at or past half the file: that request
    # fails as a lost network does, and the browser is offline until the test brings it back.
    cut: dict[str, int] = {}

    def network(route) -> None:
        request = route.request
        offset = int(request.headers.get("upload-offset", "0"))
        if request.method == "PATCH" and offset >= size // 2 and not cut:
            cut["at"] = offset
            page.context.set_offline(True)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/gallery/uploads/**", network)
    page.locator("#upload-input").set_input_files(str(video))
    row = page.locator(".upload-row")
    expect(row).to_have_attribute("data-state", "paused", timeout=20_000)
    expect(row.locator(".upload-status")).to_contain_text("Connection lost")
    upload = ResumableUpload.objects.get(owner=member)
    kept = upload.offset
    assert kept == cut["at"] and size // 2 <= kept < size
    patches_before = len(offsets)
    page.context.set_offline(False)
    expect(row).to_have_attribute("data-state", "done", timeout=60_000)

    resumed = offsets[patches_before:]
    assert resumed and resumed[0] == kept, (kept, offsets)  # went on from the kept offset
    assert offsets.count(0) == 1  # never started over
    asset = Asset.objects.get()
    expected = hashlib.sha256(video.read_bytes()).hexdigest()
    assert asset.sha256 == expected
    stored = media_root / asset.file.name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == expected
    expect(page.locator(f"#asset-{asset.pk}")).to_be_visible()
