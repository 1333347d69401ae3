"""Resumable gallery uploads over tus 1.0.0 (assets/resumable.py), through the pages' client and,
for a connection that really drops mid-chunk, through uvicorn over a raw socket."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.assets.conftest import stored_files
from tests.media_factory import make_mp4
from viggle_web.assets.models import Asset, ResumableUpload

START = reverse("gallery:resumable_start")
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def _video(folder: Path, pad: int = 600_000) -> bytes:
    """A real MP4 followed by padding in a 'free' box, so that it is long enough to chunk."""
    path = make_mp4(folder / "dance.mp4", seconds=1.0)
    data = path.read_bytes()
    return data + (pad + 8).to_bytes(4, "big") + b"free" + os.urandom(pad)


def _create(client: Client, length: int, name: str = "dance.mp4"):
    meta = "filename " + base64.b64encode(name.encode()).decode()
    return client.post(START, HTTP_UPLOAD_LENGTH=str(length), HTTP_UPLOAD_METADATA=meta, **TUS)


def _patch(client: Client, url: str, offset: int, chunk: bytes, checksum: str | None = None):
    headers = {"HTTP_UPLOAD_OFFSET": str(offset), **TUS}
    if checksum is not None:
        headers["HTTP_UPLOAD_CHECKSUM"] = checksum
    return client.generic("PATCH", url, chunk, content_type=OCTETS, **headers)


def _sha1(chunk: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(chunk, usedforsecurity=False).digest()).decode()


def _incoming(media_root: Path) -> list[Path]:
    return stored_files(media_root / ".incoming") if (media_root / ".incoming").exists() else []


@pytest.mark.django_db
def test_a_resumed_upload_continues_at_its_offset_and_keeps_the_exact_bytes(
    member_client, media_root, files_dir
) -> None:
    data = _video(files_dir)
    created = _create(member_client, len(data))
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    url = created["Location"]
    half = len(data) // 2
    assert _patch(member_client, url, 0, data[:half], _sha1(data[:half])).status_code == 204
    # The client comes back (new page, new connection): asks where the upload stands.
    head = member_client.head(url, **TUS)
    assert head.status_code == 200
    assert head["Upload-Offset"] == str(half) and head["Upload-Length"] == str(len(data))
    last = _patch(member_client, url, half, data[half:], _sha1(data[half:]))
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    outcome = member_client.get(url).json()
    assert outcome["ok"] and outcome["created"] and outcome["kind"] == "video"
    asset = Asset.objects.get(pk=outcome["asset_id"])
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    stored = media_root / asset.file.name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == asset.sha256
    assert _incoming(media_root) == []  # the .part file became the stored file


@pytest.mark.django_db
def test_a_tampered_or_misplaced_chunk_is_refused_and_nothing_of_it_is_kept(
    member_client, media_root, files_dir
) -> None:
    data = _video(files_dir)
    url = _create(member_client, len(data))["Location"]
    third = len(data) // 3
    assert _patch(member_client, url, 0, data[:third]).status_code == 204
    part = media_root / ".incoming" / f"{url.rstrip('/').rsplit('/', 1)[-1]}.part"
    # Bytes changed on the way: the checksum is the one of the real chunk.
    tampered = bytearray(data[third : 2 * third])
    tampered[100] ^= 0xFF
    answer = _patch(member_client, url, third, bytes(tampered), _sha1(data[third : 2 * third]))
    assert answer.status_code == 460
    assert part.stat().st_size == third
    assert member_client.head(url, **TUS)["Upload-Offset"] == str(third)
    # A chunk sent for the wrong place (a lost answer, a confused client): 409, nothing written.
    for wrong in (0, 2 * third, third + 1):
        assert _patch(member_client, url, wrong, data[wrong : wrong + 1000]).status_code == 409
    assert part.stat().st_size == third
    # An algorithm we do not know is refused, not ignored.
    odd = _patch(member_client, url, third, data[third:], "crc32 AAAA")
    assert odd.status_code == 400 and part.stat().st_size == third
    # The rest, sent right, completes it with the true content.
    assert _patch(member_client, url, third, data[third:], _sha1(data[third:])).status_code == 204
    asset = Asset.objects.get(pk=member_client.get(url).json()["asset_id"])
    assert asset.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db
def test_a_chunk_past_the_declared_length_or_an_oversized_upload_is_refused(
    member_client, settings, media_root, files_dir
) -> None:
    settings.MAX_UPLOAD_BYTES = 1_000_000
    too_big = _create(member_client, 1_000_001)
    assert too_big.status_code == 413 and "limit" in too_big.content.decode()
    assert not ResumableUpload.objects.exists()
    assert _create(member_client, 0).status_code == 400
    url = _create(member_client, 1000)["Location"]
    assert _patch(member_client, url, 0, b"x" * 1001).status_code == 413
    assert member_client.head(url, **TUS)["Upload-Offset"] == "0"


@pytest.mark.django_db
def test_another_member_cannot_see_append_to_or_end_my_upload(
    member_client, other_member, media_root, files_dir
) -> None:
    data = _video(files_dir)
    url = _create(member_client, len(data))["Location"]
    assert _patch(member_client, url, 0, data[:1000]).status_code == 204
    other = Client()
    other.force_login(other_member)
    assert other.head(url, **TUS).status_code == 404
    assert _patch(other, url, 1000, data[1000:2000]).status_code == 404
    assert other.delete(url, **TUS).status_code == 404
    assert other.get(url).status_code == 404
    assert member_client.head(url, **TUS)["Upload-Offset"] == "1000"


@pytest.mark.django_db
def test_creation_and_chunks_need_a_member_and_the_csrf_token(
    member, media_root, files_dir
) -> None:
    anonymous = Client()
    assert _create(anonymous, 1000).status_code == 302  # to the login page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert _create(strict, 1000).status_code == 403
    strict.get(reverse("gallery:index"))
    token = strict.cookies["csrftoken"].value
    created = strict.post(START, HTTP_UPLOAD_LENGTH="1000", HTTP_X_CSRFTOKEN=token, **TUS)
    assert created.status_code == 201
    url = created["Location"]
    no_token = strict.generic(
        "PATCH", url, b"x" * 10, content_type=OCTETS, HTTP_UPLOAD_OFFSET="0", **TUS
    )
    assert no_token.status_code == 403
    assert strict.head(url, **TUS)["Upload-Offset"] == "0"


@pytest.mark.django_db
def test_termination_and_an_abandoned_upload_leave_nothing(
    member_client, media_root, files_dir
) -> None:
    data = _video(files_dir)
    ended = _create(member_client, len(data))["Location"]
    _patch(member_client, ended, 0, data[:5000])
    assert member_client.delete(ended, **TUS).status_code == 204
    assert member_client.head(ended, **TUS).status_code == 404
    abandoned = _create(member_client, len(data))["Location"]
    _patch(member_client, abandoned, 0, data[:5000])
    kept = _create(member_client, len(data))["Location"]
    _patch(member_client, kept, 0, data[:5000])
    assert len(_incoming(media_root)) == 2
    # The abandoned one was last touched two days ago (its member closed the tab).
    abandoned_id = abandoned.rstrip("/").rsplit("/", 1)[-1]
    ResumableUpload.objects.filter(pk=abandoned_id).update(
        updated_at=ResumableUpload.objects.get(pk=abandoned_id).updated_at - timedelta(days=2)
    )
    call_command("upload_cleanup", hours=24)
    assert member_client.head(abandoned, **TUS).status_code == 404
    assert member_client.head(kept, **TUS)["Upload-Offset"] == "5000"
    kept_id = kept.rstrip("/").rsplit("/", 1)[-1]
    assert [p.name for p in _incoming(media_root)] == [f"{kept_id}.part"]


@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_mid_chunk_keeps_what_arrived_and_resumes_there(
    member, media_root, files_dir
) -> None:
    """Through uvicorn: the client sends half of a chunk and its connection dies."""
    from tests.hardening.servers import uvicorn_server
    from tests.hardening.test_body_limit import _session_cookie

    data = _video(files_dir, pad=3_000_000)
    session = _session_cookie(member)
    with (
        uvicorn_server() as base,
        httpx.Client(base_url=base, cookies={"sessionid": session}, timeout=30) as web,
    ):
        web.get("/gallery/")
        csrf = web.cookies.get("csrftoken") or ""
        headers = {"Tus-Resumable": "1.0.0", "X-CSRFToken": csrf}
        created = web.post(START, headers={**headers, "Upload-Length": str(len(data))})
        assert created.status_code == 201
        url = created.headers["Location"]
        half = len(data) // 2
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as raw:
            raw.sendall(
                (
                    f"PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Cookie: sessionid={session}; csrftoken={csrf}\r\nX-CSRFToken: {csrf}\r\n"
                    f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                    f"Content-Type: {OCTETS}\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode()
                + data[:half]
            )
            time.sleep(1.0)  # the server reads what was sent; then the connection dies
        deadline = time.monotonic() + 20
        while True:
            offset = int(web.head(url, headers=headers).headers["Upload-Offset"])
            if offset == half or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert offset == half
        rest = web.patch(
            url,
            content=data[half:],
            headers={**headers, "Upload-Offset": str(half), "Content-Type": OCTETS},
        )
        assert rest.status_code == 204, rest.text
        outcome = web.get(url).json()
    asset = Asset.objects.get(pk=outcome["asset_id"])
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256((media_root / asset.file.name).read_bytes()).hexdigest() == asset.sha256
