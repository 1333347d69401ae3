"""Uploads judged by content against Viggle's limits, with real files made by Pillow and PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image

from tests.assets.conftest import stored_files
from tests.assets.media import (
    make_elf,
    make_image,
    make_png_bomb,
    make_shell,
    make_video,
    make_zip,
    truncate,
)
from tests.media_factory import make_jpg, make_mp4, make_png
from viggle_web.assets.models import Asset

UPLOAD = reverse("gallery:upload")
XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


def post_file(client, path: Path, **extra):
    with path.open("rb") as fh:
        return client.post(UPLOAD, {"file": fh}, **XHR, **extra)


ACCEPTED = {
    "png": (lambda d: make_png(d / "hero.png"), "image", "image/png"),
    "jpg": (lambda d: make_jpg(d / "hero.jpg"), "image", "image/jpeg"),
    "webp": (lambda d: make_image(d / "hero.webp", fmt="WEBP"), "image", "image/webp"),
    "mp4": (lambda d: make_mp4(d / "dance.mp4"), "video", "video/mp4"),
    "mov": (lambda d: make_video(d / "dance.mov", container="mov"), "video", "video/quicktime"),
    "webm": (
        lambda d: make_video(d / "dance.webm", container="webm", codec="libvpx"),
        "video",
        "video/webm",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", list(ACCEPTED))
def test_it_accepts_each_kind_with_metadata_and_preview(
    member_client, member, media_root, files_dir, fmt
):
    make, kind, content_type = ACCEPTED[fmt]
    path = make(files_dir)

    response = post_file(member_client, path)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ok"] and body["created"]
    assert f'id="asset-{body["asset_id"]}"' in body["card"]
    asset = Asset.objects.get()
    assert asset.kind == kind
    assert asset.content_type == content_type
    assert asset.uploaded_by == member
    assert asset.name == path.stem
    assert asset.size_bytes == path.stat().st_size
    if kind == "image":
        assert (asset.width, asset.height) == (256, 256)
    else:
        assert (asset.width, asset.height) == (160, 120)
        assert asset.duration_seconds == pytest.approx(2.0, abs=0.1)
        assert asset.fps == pytest.approx(12, abs=0.01)
    assert (media_root / asset.file.name).read_bytes() == path.read_bytes()
    with Image.open(media_root / asset.preview.name) as preview:
        assert preview.format == "JPEG"
    assert len(stored_files(media_root)) == 2


@pytest.mark.django_db
def test_a_large_upload_goes_through_a_temp_file(member_client, settings, media_root, files_dir):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload streams to a temporary file
    response = post_file(member_client, make_video(files_dir / "big.mp4"))
    assert response.status_code == 201
    assert Asset.objects.get().duration_seconds == pytest.approx(2.0, abs=0.1)


def _disguised_elf(d: Path) -> Path:
    return make_elf(d / "movie.mp4")


REFUSED = {
    "over_long": (
        lambda d: make_video(d / "long.mp4", seconds=320, size=(64, 64), fps=Fraction(1, 4)),
        "at most 5:00",
    ),
    "too_short": (lambda d: make_video(d / "blink.mp4", seconds=0.3), "at least 0.5 s"),
    "image_too_small": (lambda d: make_image(d / "tiny.png", size=(63, 200)), "smallest"),
    "video_too_small": (
        lambda d: make_video(d / "tiny.mp4", size=(48, 64), seconds=1),
        "smallest",
    ),
    "image_too_large": (lambda d: make_image(d / "wide.png", size=(4100, 64)), "largest"),
    "video_too_large": (
        lambda d: make_video(d / "wide.mp4", size=(4112, 64), seconds=1),
        "largest",
    ),
    "truncated_video": (lambda d: truncate(make_video(d / "cut.mp4")), "not a readable"),
    "truncated_image": (
        lambda d: truncate(make_image(d / "cut.png", size=(400, 400)), keep=0.6),
        "truncated",
    ),
    "zip_as_png": (lambda d: make_zip(d / "photo.png"), "not a PNG, JPG or WebP"),
    "elf_as_mp4": (_disguised_elf, "not a PNG, JPG or WebP"),
    "shell_as_mp4": (lambda d: make_shell(d / "clip.mp4"), "not a PNG, JPG or WebP"),
    "decompression_bomb": (lambda d: make_png_bomb(d / "bomb.png"), "decompression bomb"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(REFUSED))
def test_it_refuses_and_leaves_nothing_behind(member_client, media_root, files_dir, case):
    make, reason = REFUSED[case]
    path = make(files_dir)

    response = post_file(member_client, path)

    assert response.status_code == 400
    message = response.json()["message"]
    assert path.name in message
    assert reason in message
    assert Asset.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.django_db
def test_it_refuses_a_file_over_the_size_limit(member_client, settings, media_root, files_dir):
    path = make_image(files_dir / "big.png", size=(600, 600))
    settings.MAX_UPLOAD_BYTES = path.stat().st_size - 1

    response = post_file(member_client, path)

    assert response.status_code == 400
    assert "big.png" in response.json()["message"]
    assert "limit" in response.json()["message"]
    assert Asset.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.django_db
def test_a_duplicate_points_to_the_existing_asset(
    member_client, other_member, client, media_root, files_dir
):
    path = make_video(files_dir / "dance.mp4")
    first = post_file(member_client, path).json()
    files_before = stored_files(media_root)

    client.force_login(other_member)
    copy = files_dir / "copy-of-dance.mp4"
    copy.write_bytes(path.read_bytes())
    response = post_file(client, copy)

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] and not body["created"]
    assert body["asset_id"] == first["asset_id"]
    assert "already has" in body["message"]
    assert Asset.objects.count() == 1
    assert stored_files(media_root) == files_before


@pytest.mark.django_db
def test_a_plain_form_post_handles_several_files(member_client, media_root, files_dir):
    good = make_image(files_dir / "good.png")
    bad = make_zip(files_dir / "bad.png")
    with good.open("rb") as one, bad.open("rb") as two:
        response = member_client.post(UPLOAD, {"file": [one, two]}, follow=True)

    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert any("good.png was added" in t for t in texts)
    assert any("bad.png was not added" in t for t in texts)
    assert list(Asset.objects.values_list("original_filename", flat=True)) == ["good.png"]
    assert len(stored_files(media_root)) == 2


@pytest.mark.django_db
def test_the_service_also_refuses_an_oversized_file(member, settings, media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from viggle_web.assets.services import UploadRefused, asset_create

    settings.MAX_UPLOAD_BYTES = 10
    with pytest.raises(UploadRefused, match="limit"):
        asset_create(user=member, upload=SimpleUploadedFile("x.png", b"\x89PNG" + b"0" * 20))
    assert Asset.objects.count() == 0


@pytest.mark.django_db
def test_an_upload_needs_the_csrf_token(member, media_root, files_dir):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    path = make_image(files_dir / "hero.png")

    assert post_file(browser, path).status_code == 403
    assert Asset.objects.count() == 0

    browser.get(reverse("gallery:index"))  # sets the CSRF cookie, as the page does
    token = browser.cookies["csrftoken"].value
    assert post_file(browser, path, HTTP_X_CSRFTOKEN=token).status_code == 201
    assert Asset.objects.count() == 1


@pytest.mark.django_db
def test_uploading_an_archived_file_again_restores_it(member_client, member, media_root, files_dir):
    path = make_png(files_dir / "hero.png")
    first = post_file(member_client, path).json()
    Asset.objects.filter(pk=first["asset_id"]).update(archived_at="2026-01-01T00:00:00Z")

    response = post_file(member_client, path)

    assert response.status_code == 200
    assert "restored" in response.json()["message"]
    assert Asset.objects.get().archived_at is None
    assert len(stored_files(media_root)) == 2
