"""Oversized request bodies are refused by the ASGI server before they are read (issue 14,
point 1): Django spools a whole body to disk before authentication, CSRF or an upload limit
runs, so an anonymous 1 GB POST /login/ used to be held in full.

Each test runs uvicorn (the production server) and streams a body over a raw socket, stopping
as soon as the server answers, as an attacker's client would not but a test must.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from tests.hardening.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

GB = 1024**3
MB = 1024**2
CHUNK = b"x" * (64 * 1024)


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass
    return total


@pytest.fixture
def server_tmp(tmp_path: Path) -> Path:
    root = tmp_path / "server-tmp"
    root.mkdir()
    return root


@pytest.fixture
def server(server_tmp: Path, media_root: Path):
    with uvicorn_server(TMPDIR=str(server_tmp), MAX_UPLOAD_BYTES=str(MB)) as base:
        yield base


def _stream(
    base: str,
    path: str,
    *,
    length: int | None,
    headers: dict[str, str] | None = None,
    budget: float = 10.0,
) -> tuple[int, bytes, float, int]:
    """POST ``length`` bytes (chunked when None, without end) until the server answers.
    Returns (status, response bytes, seconds until the answer, bytes sent)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setblocking(False)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines.append("Content-Type: application/x-www-form-urlencoded")
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    lines.append(framing)
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    pending = ("\r\n".join(lines) + "\r\n\r\n").encode()
    sent = 0
    started = time.monotonic()
    received = b""
    chunk = CHUNK if length is not None else b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
    try:
        while time.monotonic() - started < budget:
            readable, writable, _ = select.select([sock], [sock], [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                received += data
                if b"\r\n\r\n" in received:
                    head, _, rest = received.partition(b"\r\n\r\n")
                    declared = [
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ]
                    if declared and len(rest) >= declared[0]:
                        break
                continue
            if writable:
                if not pending:
                    if length is not None and sent >= length:
                        continue
                    pending = chunk
                try:
                    n = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    continue
                sent += n
                pending = pending[n:]
        elapsed = time.monotonic() - started
    finally:
        sock.close()
    assert received, f"no answer after {budget}s ({sent} bytes sent)"
    status = int(received.split(b" ", 2)[1])
    return status, received.partition(b"\r\n\r\n")[2], elapsed, sent


def _session_cookie(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def test_an_anonymous_1gb_login_post_is_refused_at_once(server, server_tmp, media_root) -> None:
    status, body, elapsed, sent = _stream(server, "/login/", length=GB)
    assert status == 413
    assert b"too large" in body
    assert elapsed < 1.0, f"answered after {elapsed:.2f}s"
    assert sent < 64 * MB, f"{sent} bytes went in before the answer"
    assert _tree_size(server_tmp) + _tree_size(media_root) < 4 * MB


def test_an_anonymous_chunked_body_is_cut_off_as_it_streams(server, server_tmp, media_root) -> None:
    status, body, elapsed, sent = _stream(server, "/login/", length=None)
    assert status == 413
    assert b"too large" in body
    assert elapsed < 1.0, f"answered after {elapsed:.2f}s"
    assert _tree_size(server_tmp) + _tree_size(media_root) < 4 * MB


def test_an_api_refusal_is_json_in_viggles_shape(server) -> None:
    status, body, _elapsed, _sent = _stream(
        server, "/api/render", length=GB, headers={"Authorization": "Bearer vs_made_up"}
    )
    assert status == 413
    detail = json.loads(body)["detail"]
    assert detail["error_code"] == "CS-ORIV-005"
    assert "too large" in detail["message"]


def test_a_made_up_session_cookie_gets_the_anonymous_limit(server, member) -> None:
    status, _body, _elapsed, _sent = _stream(
        server, "/gallery/upload/", length=MB, headers={"Cookie": "sessionid=made-up-key"}
    )
    assert status == 413


def test_a_signed_in_member_may_send_more_but_not_unlimited(server, member) -> None:
    cookie = {"Cookie": f"sessionid={_session_cookie(member)}"}
    # 1 MB to an ordinary page passes the body limit (Django then answers it as usual).
    status, _body, _elapsed, _sent = _stream(server, "/renders/new/", length=MB, headers=cookie)
    assert status != 413
    # 6 MB to an ordinary page does not (MAX_REQUEST_BYTES, 5 MB).
    status, _body, _elapsed, _sent = _stream(server, "/renders/new/", length=6 * MB, headers=cookie)
    assert status == 413
    # A chunked body past 5 MB is cut off too.
    status, _body, _elapsed, _sent = _stream(server, "/renders/new/", length=None, headers=cookie)
    assert status == 413


def test_upload_requests_get_files_plus_form_but_a_total_cap(server, member) -> None:
    cookie = f"sessionid={_session_cookie(member)}"
    # MAX_UPLOAD_BYTES is 1 MB on this server: the request may carry two such files and a form.
    files = {
        "file": ("a.png", b"\x89PNG" + b"0" * (MB - 100), "image/png"),
    }
    session = {"sessionid": cookie.removeprefix("sessionid=")}
    with httpx.Client(base_url=server, cookies=session, timeout=30) as web:
        web.get("/gallery/")
        csrf = web.cookies.get("csrftoken") or ""
        answer = web.post(
            "/gallery/upload/",
            files=files,
            headers={"X-CSRFToken": csrf, "X-Requested-With": "XMLHttpRequest"},
        )
    # The view judged the file (junk, so refused with a reason): the body limit let it through.
    assert answer.status_code == 400
    assert answer.json()["ok"] is False and answer.json()["message"]
    # Four parts just under the per-file limit pass no file check, but the total is refused.
    status, _body, _elapsed, _sent = _stream(
        server, "/gallery/upload/", length=4 * MB - 400, headers={"Cookie": cookie}
    )
    assert status == 413
