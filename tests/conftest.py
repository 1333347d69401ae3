"""Shared fixtures: an admin, a member and an outsider (another member), as the style guide asks."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls that tests make
# beside it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-9"

# No test reaches beyond this machine: a connection to any address that is not loopback fails
# before a packet is sent (the simulator, Postgres, Redis and the live server are all loopback).
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(sock: socket.socket, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])  # type: ignore[index]
    try:
        addresses = [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        addresses = [
            ipaddress.ip_address(info[4][0].split("%")[0])
            for info in socket.getaddrinfo(host, None)
        ]
    if not all(a.is_loopback for a in addresses):
        raise OSError(f"tests may only connect to loopback, not {host}")


def _loopback_connect(self: socket.socket, address: object) -> None:
    _check_loopback(self, address)
    return _real_connect(self, address)


def _loopback_connect_ex(self: socket.socket, address: object) -> int:
    _check_loopback(self, address)
    return _real_connect_ex(self, address)


# The opt-in contract run against the real Viggle API (VIGGLE_REAL_API=1) is the one exception.
if os.environ.get("VIGGLE_REAL_API") != "1":
    socket.socket.connect = _loopback_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _loopback_connect_ex  # type: ignore[method-assign]


@pytest.fixture
def media_root(settings, tmp_path: Path) -> Path:
    """A storage directory of the test's own, so "no file was left behind" can be counted."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of the test's own on a free loopback port (the scale-out broker)."""
    redis = pytest.importorskip(
        "redis", reason="the redis extra is not installed: pip install -e '.[redis]'"
    )
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password=PASSWORD, role="admin"
    )


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(
        username="bob", email="bob@example.com", password=PASSWORD, role="member"
    )


@pytest.fixture
def other_member(django_user_model):
    return django_user_model.objects.create_user(
        username="carol", email="carol@example.com", password=PASSWORD, role="member"
    )


@pytest.fixture
def admin_client(admin_user):
    # Its own client, so a test can hold an admin's and a member's session at once.
    from django.test import Client

    admin = Client()
    admin.force_login(admin_user)
    return admin


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


from tests.viggle_fixtures import *  # noqa: E402, F403


@pytest.fixture(autouse=True)
def _fresh_progress_listeners():
    """notify reads who listens to progress at most every 2 s per process: each test starts
    from what its own database says."""
    from viggle_web.notify.services.events import progress_listeners_forget

    progress_listeners_forget()
    yield
    progress_listeners_forget()
