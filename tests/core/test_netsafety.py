"""Server-side fetches of member URLs refuse internal addresses (SSRF), hop by hop."""

from __future__ import annotations

import io
import socket

import httpx
import pytest

from viggle_web.core import netsafety
from viggle_web.core.netsafety import FetchError, address_is_public, fetch_to_file

PUBLIC_IP = "93.184.215.14"


@pytest.fixture
def strict(settings):
    settings.ALLOW_PRIVATE_FETCH = False
    return settings


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "not-an-address",
    ],
)
def test_internal_addresses_are_not_public(address):
    assert address_is_public(address) is False


@pytest.mark.parametrize(
    "address", [PUBLIC_IP, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are(address):
    assert address_is_public(address) is True


class Counting:
    """A MockTransport that records what reached it."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.routes[request.headers["host"] + request.url.path]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://10.1.2.3/x.png",
        "http://172.16.5.5/x.png",
        "http://192.168.0.10/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.png",
        "http://[fc00::5]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://2130706433/x.png",  # 127.0.0.1 as one number
        "http://localhost/x.png",  # a name that resolves to loopback
    ],
)
def test_internal_urls_are_refused_before_any_request(strict, url):
    mock = Counting({})
    with pytest.raises(FetchError) as caught:
        fetch_to_file(url, io.BytesIO(), transport=mock.transport())
    assert "private or reserved" in caught.value.reason
    assert mock.seen == []


def test_a_real_loopback_server_is_never_contacted(strict, media_server):
    (media_server.root / "x.png").write_bytes(b"secret")
    with pytest.raises(FetchError):
        fetch_to_file(media_server.url("x.png"), io.BytesIO())
    with pytest.raises(FetchError):
        fetch_to_file(media_server.url("x.png").replace("127.0.0.1", "localhost"), io.BytesIO())


def test_a_name_resolving_to_any_private_address_is_refused(strict, monkeypatch):
    def fake(host, port, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.5", port)),
        ]

    monkeypatch.setattr(netsafety.socket, "getaddrinfo", fake)
    with pytest.raises(FetchError):
        fetch_to_file("http://mixed.example/x", io.BytesIO(), transport=Counting({}).transport())


def _public_dns(monkeypatch):
    """Names under .example resolve to a public address; the rest resolve for real."""
    real = socket.getaddrinfo

    def resolve(host, port, **kwargs):
        if host.endswith(".example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port))]
        return real(host, port, **kwargs)

    monkeypatch.setattr(netsafety.socket, "getaddrinfo", resolve)


def test_a_redirect_to_a_private_address_is_refused(strict, monkeypatch):
    _public_dns(monkeypatch)
    mock = Counting(
        {
            "files.example/a.png": httpx.Response(
                302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
            )
        }
    )
    with pytest.raises(FetchError) as caught:
        fetch_to_file("http://files.example/a.png", io.BytesIO(), transport=mock.transport())
    assert "169.254.169.254" in caught.value.reason
    assert len(mock.seen) == 1


def test_a_redirect_to_a_name_resolving_to_loopback_is_refused(strict, monkeypatch):
    _public_dns(monkeypatch)
    mock = Counting(
        {"files.example/a.png": httpx.Response(301, headers={"Location": "http://localhost/"})}
    )
    with pytest.raises(FetchError):
        fetch_to_file("http://files.example/a.png", io.BytesIO(), transport=mock.transport())
    assert len(mock.seen) == 1


def test_public_redirects_are_followed_and_the_vetted_address_is_used(strict, monkeypatch):
    _public_dns(monkeypatch)
    mock = Counting(
        {
            "files.example/a.png": httpx.Response(302, headers={"Location": "/b.png"}),
            "files.example/b.png": httpx.Response(
                200, content=b"PNGDATA", headers={"Content-Type": "image/png"}
            ),
        }
    )
    out = io.BytesIO()
    result = fetch_to_file("http://files.example/a.png", out, transport=mock.transport())
    assert out.getvalue() == b"PNGDATA"
    assert (result.size, result.content_type, result.filename) == (7, "image/png", "b.png")
    # Connected to the address that was checked, with the name as Host (no second lookup).
    assert all(r.url.host == PUBLIC_IP for r in mock.seen)
    assert mock.seen[0].headers["host"] == "files.example"


def test_too_many_redirects_are_refused(strict, monkeypatch):
    _public_dns(monkeypatch)
    mock = Counting({"files.example/loop": httpx.Response(302, headers={"Location": "/loop"})})
    with pytest.raises(FetchError, match="redirected more than"):
        fetch_to_file("http://files.example/loop", io.BytesIO(), transport=mock.transport())


@pytest.mark.parametrize("url", ["ftp://files.example/a", "file:///etc/passwd", "gopher://x/"])
def test_only_http_and_https(strict, url):
    with pytest.raises(FetchError, match="http"):
        fetch_to_file(url, io.BytesIO())


def test_the_size_cap_holds_declared_or_not(strict, monkeypatch):
    _public_dns(monkeypatch)
    mock = Counting(
        {
            "files.example/big": httpx.Response(200, content=b"x" * 100),
            "files.example/chunked": httpx.Response(200, content=iter([b"x" * 60, b"x" * 60])),
        }
    )
    for path in ("big", "chunked"):
        with pytest.raises(FetchError) as caught:
            fetch_to_file(
                f"http://files.example/{path}",
                io.BytesIO(),
                max_bytes=50,
                transport=mock.transport(),
            )
        assert caught.value.too_large


def test_errors_and_empty_bodies_are_refused(strict, monkeypatch):
    _public_dns(monkeypatch)
    mock = Counting(
        {
            "files.example/missing": httpx.Response(404),
            "files.example/empty": httpx.Response(200, content=b""),
        }
    )
    for path in ("missing", "empty"):
        with pytest.raises(FetchError):
            fetch_to_file(f"http://files.example/{path}", io.BytesIO(), transport=mock.transport())


def test_development_allows_loopback(settings, media_server):
    settings.ALLOW_PRIVATE_FETCH = True
    (media_server.root / "x.bin").write_bytes(b"hello")
    out = io.BytesIO()
    assert fetch_to_file(media_server.url("x.bin"), out).size == 5
    assert out.getvalue() == b"hello"
