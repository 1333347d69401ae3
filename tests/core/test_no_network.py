"""The suite cannot reach the internet: connections leave only for loopback addresses."""

from __future__ import annotations

import os
import socket

import httpx
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("VIGGLE_REAL_API") == "1", reason="the real-API contract run may go out"
)


def test_a_connection_beyond_loopback_is_refused_before_it_is_made():
    # 192.0.2.1 is TEST-NET-1 (documentation only); the guard raises before any packet.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(OSError, match="loopback"):
            sock.connect(("192.0.2.1", 80))
    with pytest.raises(httpx.ConnectError, match="loopback"):
        httpx.get("http://192.0.2.1/", timeout=2)


def test_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
