"""A corpus of malformed media, sent through the gallery upload (gallery:upload, XHR and plain
form) and the API's multipart render endpoint: truncated MP4s, zero bytes, wrong magic, a PNG
header claiming 100000x100000, non-video containers (zip, ELF, PDF), text named .mp4, markup named
.png. Each gets a 4xx with a message, and leaves no row and no file behind. Path tricks in file
names (../../etc/passwd, NUL bytes) never put a file outside MEDIA_ROOT.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.hardening.test_bad_input import snapshot
from viggle_web.assets.models import Asset
from viggle_web.gateway.services import token_create

pytestmark = pytest.mark.django_db


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def huge_png(width: int = 100_000, height: int = 100_000, idat: bool = True) -> bytes:
    """A well-formed PNG header that claims an enormous image (a decompression bomb's shape)."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
    data = _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) if idat else b""
    return b"\x89PNG\r\n\x1a\n" + header + data + _png_chunk(b"IEND", b"")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dance.mp4", b"not really" * 100)
    return buffer.getvalue()


def corpus(media_files) -> list[tuple[str, str, bytes]]:
    mp4 = media_files.mp4.read_bytes()
    png = media_files.png.read_bytes()
    jpg = media_files.jpg.read_bytes()
    return [
        ("truncated-mp4-half", "dance.mp4", mp4[: len(mp4) // 2]),
        ("truncated-mp4-head", "dance.mp4", mp4[:64]),
        ("mp4-without-ftyp-start", "dance.mp4", mp4[16:]),
        ("zero-bytes-mp4", "empty.mp4", b""),
        ("zero-bytes-png", "empty.png", b""),
        ("wrong-magic", "clip.mp4", bytes(range(256)) * 40),
        ("png-100000x100000", "huge.png", huge_png()),
        ("png-100000x100000-no-data", "huge.png", huge_png(idat=False)),
        ("png-1x100000", "thin.png", huge_png(1, 100_000)),
        ("png-truncated", "hero.png", png[: len(png) // 2]),
        ("jpeg-truncated", "poster.jpg", jpg[:200]),
        ("zip-as-mp4", "archive.mp4", zip_bytes()),
        ("zip", "archive.zip", zip_bytes()),
        ("elf", "run.mp4", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 2000),
        ("pdf", "doc.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
        ("pdf-as-png", "doc.png", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
        ("text-as-mp4", "notes.mp4", b"this is not a video, just text\n" * 50),
        (
            "svg-as-png",
            "vector.png",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        ),
        ("html-as-png", "page.png", b"<html><script>alert(1)</script></html>"),
        ("path-trick-bad-content", "../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"),
        ("nul-in-name-bad-content", "a\x00b.mp4", b"\x00" * 100),
    ]


CASES = [
    "truncated-mp4-half", "truncated-mp4-head", "mp4-without-ftyp-start", "zero-bytes-mp4",
    "zero-bytes-png", "wrong-magic", "png-100000x100000", "png-100000x100000-no-data",
    "png-1x100000", "png-truncated", "jpeg-truncated", "zip-as-mp4", "zip", "elf", "pdf",
    "pdf-as-png", "text-as-mp4", "svg-as-png", "html-as-png", "path-trick-bad-content",
    "nul-in-name-bad-content",
]  # fmt: skip


@pytest.fixture(autouse=True)
def no_viggle(settings) -> None:
    settings.VIGGLE_BASE_URL = "http://127.0.0.1:9"  # nothing here may reach Viggle
    settings.VIGGLE_MAX_RETRIES = 0


def _case(media_files, case_id: str) -> tuple[str, bytes]:
    for found, name, data in corpus(media_files):
        if found == case_id:
            return name, data
    raise KeyError(case_id)


def test_the_case_list_matches_the_corpus(media_files) -> None:
    assert [c[0] for c in corpus(media_files)] == CASES


@pytest.mark.parametrize("case_id", CASES)
def test_the_gallery_refuses_malformed_media(member_client, media_root, media_files, case_id):
    name, data = _case(media_files, case_id)
    before = snapshot(media_root)
    response = member_client.post(
        "/gallery/upload/",
        {"file": SimpleUploadedFile(name, data)},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 400, (case_id, response.status_code, response.content[:300])
    body = response.json()
    assert body["ok"] is False and "was not added" in body["message"], body
    assert snapshot(media_root) == before
    # The plain form post (no JavaScript): a redirect with the reason as a message.
    response = member_client.post(
        "/gallery/upload/", {"file": SimpleUploadedFile(name, data)}, follow=True
    )
    assert response.status_code == 200
    assert "was not added" in response.content.decode()
    assert snapshot(media_root) == before


@pytest.mark.parametrize("case_id", CASES)
def test_the_api_refuses_malformed_media(member, media_root, media_files, case_id):
    name, data = _case(media_files, case_id)
    auth = {"Authorization": f"Bearer {token_create(user=member, name='media').raw}"}
    before = snapshot(media_root)
    response = Client().post(
        "/api/render",
        {
            "ref_image": SimpleUploadedFile(name, data),
            "driving_video": SimpleUploadedFile(name, data),
        },
        headers=auth,
    )
    assert 400 <= response.status_code < 500, (case_id, response.status_code, response.content)
    detail = response.json()["detail"]
    assert detail["error_code"] and detail["message"], detail
    assert snapshot(media_root) == before


@pytest.mark.django_db(transaction=True)  # stored files are removed once the refusal commits
@pytest.mark.parametrize(
    "case_id", ["truncated-mp4-half", "zero-bytes-mp4", "elf", "text-as-mp4", "zip-as-mp4"]
)
def test_a_bad_video_beside_a_good_image_leaves_nothing_behind(
    member, media_root, media_files, case_id
):
    """The good image of a refused render must not stay behind as a half-made gallery asset."""
    name, data = _case(media_files, case_id)
    auth = {"Authorization": f"Bearer {token_create(user=member, name='media').raw}"}
    before = snapshot(media_root)
    with media_files.png.open("rb") as image:
        response = Client().post(
            "/api/render",
            {"ref_image": image, "driving_video": SimpleUploadedFile(name, data)},
            headers=auth,
        )
    assert 400 <= response.status_code < 500, response.content
    assert snapshot(media_root) == before


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.png", "..\\..\\x.png", "a\x00b.png", "/abs.png"]
)
def test_path_tricks_in_file_names_stay_inside_media_root(
    member_client, media_root, media_files, tmp_path, name
):
    response = member_client.post(
        "/gallery/upload/",
        {"file": SimpleUploadedFile(name, media_files.png.read_bytes())},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code in (200, 201, 400), response.content
    assert response.json()["message"]
    for asset in Asset.objects.exclude(file=""):
        stored = (media_root / asset.file.name).resolve()
        assert stored.is_relative_to(media_root.resolve()), asset.file.name
        assert ".." not in Path(asset.file.name).parts and "\x00" not in asset.file.name
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(media_root)]
    assert not [p for p in outside if "passwd" in p.name or p.name == "abs.png"]
