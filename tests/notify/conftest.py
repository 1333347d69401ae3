"""A real receiving HTTP server for webhook tests, and helpers that take the member's path."""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import reverse

from tests.gateway.conftest import *  # noqa: F403


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next status of ``script`` (then ``default``); records what it
    got. ``hold`` makes the first request wait until ``release`` is set (a delivery in flight)."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)
    hold_first: bool = False
    endless: bool = False  # answer 200 with a body that never ends (until the client hangs up)
    sent_bytes: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} requests received")
            time.sleep(0.05)
        return self.received


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with receiver.lock:
                first = not receiver.arrived.is_set()
                receiver.arrived.set()
                receiver.received.append(
                    Received(headers={k.lower(): v for k, v in self.headers.items()}, body=body)
                )
                status = receiver.script.pop(0) if receiver.script else receiver.default
            if first and receiver.hold_first:
                receiver.release.wait(60)
            self.send_response(status)
            if receiver.endless:
                self.end_headers()  # no length: the body runs until the connection closes
                chunk = b"x" * 65536
                try:
                    while not receiver.release.is_set():
                        self.wfile.write(chunk)
                        receiver.sent_bytes += len(chunk)
                except OSError:
                    pass  # the client read what it wanted and hung up
                return
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    server.daemon_threads = True
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        box.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def fast_retries(settings) -> None:
    """The backoff schedule is a setting: seconds, so the tests run in seconds."""
    settings.WEBHOOK_RETRY_SCHEDULE = [0.2, 0.2, 0.2, 0.2]
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.0
    settings.WEBHOOK_LEASE_SECONDS = 5.0


def shown_secret(html: str) -> str:
    match = re.search(r'value="(whsec_[A-Za-z0-9+/=]+)"[^>]*data-new-secret', html)
    assert match, "no secret shown on the page"
    return match.group(1)


def add_endpoint(client: Client, url: str, events: list[str], **extra: str) -> tuple[int, str]:
    """Add a standing endpoint through the webhooks page; its id and the secret shown once."""
    from viggle_web.notify.models import Endpoint

    response = client.post(reverse("notify:webhooks"), {"url": url, "events": events, **extra})
    assert response.status_code == 200, response.content.decode()[:2000]
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    return Endpoint.objects.latest("id").pk, shown_secret(html)
