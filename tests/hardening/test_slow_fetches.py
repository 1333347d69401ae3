"""Server-side URL fetches end on a timer and hold no database connection (issue 14, point 3).

A `*_url` that trickles bytes used to be cut only once per 1 MiB chunk (never, for a trickle)
while the request held a database connection: about 44 such calls starved every page. A trickle
server on loopback (ALLOW_PRIVATE_FETCH is on in tests) stands in for the slow host.
"""

from __future__ import annotations

import concurrent.futures
import io
import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from tests.hardening.servers import uvicorn_server
from viggle_web.core.netsafety import FetchError, fetch_to_file
from viggle_web.gateway.services import token_create


@pytest.fixture
def trickle() -> Iterator[SimpleNamespace]:
    """An HTTP server that answers 200 with a 1 MB Content-Length, then sends one byte every
    ``interval`` seconds. ``connections`` counts the requests it has taken."""
    state = SimpleNamespace(connections=0, interval=1.0, stop=threading.Event())
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.2)

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                state.connections += 1
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n"
                )
                while not state.stop.wait(state.interval):
                    conn.sendall(b"x")
            except OSError:
                return

    def accept() -> None:
        while not state.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    state.url = f"http://127.0.0.1:{port}/slow.png"
    yield state
    state.stop.set()
    listener.close()


def _cookie(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _fetch_via_api(base: str, raw: str, url: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = httpx.post(
        f"{base}/api/characters/preprocess",
        data={"name": "slow", "image_url": url},
        headers={"Authorization": f"Bearer {raw}"},
        timeout=120,
    )
    return response.status_code, response.json(), time.monotonic() - started


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_a_trickle_is_cut_by_the_minimum_rate(trickle, settings) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as refused:
        fetch_to_file(trickle.url, io.BytesIO(), total_seconds=60, min_bytes_per_second=1024)
    assert "too slowly" in refused.value.reason
    assert time.monotonic() - started < 30  # within seconds, not at the deadline


def test_a_steady_slow_download_is_cut_at_the_deadline(trickle) -> None:
    trickle.interval = 0.05  # ~20 bytes a second: over the minimum rate given here
    started = time.monotonic()
    with pytest.raises(FetchError) as refused:
        fetch_to_file(trickle.url, io.BytesIO(), total_seconds=3, min_bytes_per_second=1)
    assert "took longer than 3 seconds" in refused.value.reason
    assert time.monotonic() - started < 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_forty_trickling_fetches_do_not_starve_pages(trickle, member, media_root) -> None:
    raw = token_create(user=member, name="script").raw
    cookie = _cookie(member)
    with uvicorn_server(
        DB_POOL="true",
        DB_POOL_MIN="1",
        DB_POOL_MAX="6",
        DB_POOL_TIMEOUT="5",
        URL_FETCH_MAX_IN_FLIGHT="40",
        URL_FETCH_MAX_PER_MEMBER="40",
        URL_FETCH_MIN_BYTES_PER_SECOND="1024",
        URL_FETCH_TIMEOUT_SECONDS="45",
        GATEWAY_RATE_LIMIT_PER_MINUTE="1000",
    ) as base:
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            fetches = [pool.submit(_fetch_via_api, base, raw, trickle.url) for _ in range(40)]
            _wait_for(lambda: trickle.connections >= 40)
            # Every fetch is in flight now; pages that need the database still answer.
            with httpx.Client(base_url=base, cookies={"sessionid": cookie}, timeout=30) as web:
                statuses = [web.get("/renders/").status_code for _ in range(10)]
            results = [f.result(timeout=90) for f in fetches]
    assert statuses == [200] * 10
    for status, body, elapsed in results:
        assert status == 400, body
        assert "too slowly" in body["detail"]["message"]
        assert elapsed < 60


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_fetches_in_flight_are_bounded_per_member_and_in_total(
    trickle, member, other_member, media_root
) -> None:
    mine = token_create(user=member, name="script").raw
    theirs = token_create(user=other_member, name="script").raw
    with uvicorn_server(
        URL_FETCH_MAX_IN_FLIGHT="3",
        URL_FETCH_MAX_PER_MEMBER="2",
        URL_FETCH_MIN_BYTES_PER_SECOND="1024",
    ) as base:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            member_calls = [pool.submit(_fetch_via_api, base, mine, trickle.url) for _ in range(4)]
            _wait_for(lambda: trickle.connections >= 2)
            other_calls = [pool.submit(_fetch_via_api, base, theirs, trickle.url) for _ in range(2)]
            member_results = [f.result(timeout=90) for f in member_calls]
            other_results = [f.result(timeout=90) for f in other_calls]
    refused = [body["detail"]["message"] for status, body, _ in member_results if status == 429]
    assert len(refused) == 2 and all("the most at once" in m for m in refused)
    assert sorted(status for status, _, _ in other_results) == [400, 429]
    busy = next(body for status, body, _ in other_results if status == 429)
    assert "as many URLs as it can at once" in busy["detail"]["message"]
    assert trickle.connections == 3
