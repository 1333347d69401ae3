"""Fetch a URL that a member gave us (``ref_image_url``, ``video_url``, ...) without letting it
reach inside our network (SSRF).

Rules, each hop of a redirect chain checked again:
- http and https only, a host is required;
- the host is resolved once here and *every* address it resolves to must be public: private,
  loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved, unspecified,
  shared (100.64/10) and site-local addresses are refused, for IPv4 and IPv6, including IPv4
  addresses embedded in IPv6 (IPv4-mapped, NAT64, 6to4, Teredo);
- the connection goes to the vetted address itself (the URL's host is sent as the Host header
  and as the TLS server name), so a second DNS answer cannot swap in another address (DNS
  rebinding), and no proxy from the environment is used;
- redirects are followed by hand, at most ``MAX_REDIRECTS``;
- the body is streamed to the caller's file, at most ``max_bytes``, within a total time limit.

``settings.ALLOW_PRIVATE_FETCH`` (development and tests, where the simulator and test servers
live on loopback) lifts the address rule only.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import httpx
from django.conf import settings

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
TOTAL_SECONDS = 600.0
CHUNK = 1024 * 1024
USER_AGENT = "ViggleStudio-fetch/1"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The URL was not fetched. ``reason`` is for the member; ``too_large`` tells a size
    refusal apart (the API answers it with its own code)."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


@dataclass(frozen=True)
class FetchResult:
    size: int
    content_type: str
    final_url: str
    filename: str


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        embedded.append(ip.ipv4_mapped)
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    return embedded


def address_is_public(address: str | IPAddress) -> bool:
    """Whether ``address`` is an ordinary public internet address we may connect to."""
    try:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if ip.ipv4_mapped is not None:
            # ::ffff:a.b.c.d *is* a.b.c.d on the wire: judge it as that address alone.
            return address_is_public(ip.ipv4_mapped)
        if any(not address_is_public(v4) for v4 in embedded):
            return False
        if ip.is_site_local:
            return False
    elif ip in _SHARED:
        return False
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return False
    # NAT64 and 6to4 prefixes are not "global" themselves, but carry a checked public IPv4.
    if isinstance(ip, ipaddress.IPv6Address) and (ip in _NAT64 or ip.sixtofour is not None):
        return True
    return ip.is_global


def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"the host {host} could not be resolved ({exc})")
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(f"the host {host} has no address")
    return addresses


def vetted_addresses(url: httpx.URL) -> list[str]:
    """Check scheme and host of ``url`` and return the addresses we may connect to."""
    if url.scheme not in ("http", "https"):
        raise FetchError("only http:// and https:// URLs can be fetched")
    host = url.host
    if not host:
        raise FetchError("the URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not settings.ALLOW_PRIVATE_FETCH:
        refused = [a for a in addresses if not address_is_public(a)]
        if refused:
            raise FetchError(
                f"the host {host} resolves to a private or reserved address ({refused[0]}), "
                "which cannot be fetched"
            )
    return addresses


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(f"the URL is not valid ({exc})")
    if parsed.scheme not in ("http", "https"):
        raise FetchError("only http:// and https:// URLs can be fetched")
    return parsed


def _send(client: httpx.Client, url: httpx.URL, addresses: list[str]) -> httpx.Response:
    """GET ``url`` at one of its vetted ``addresses`` (the first that accepts a connection)."""
    host_header = url.netloc.decode("ascii")
    last: Exception | None = None
    for address in addresses:
        request = client.build_request(
            "GET",
            url.copy_with(host=address),
            headers={"Host": host_header, "User-Agent": USER_AGENT, "Accept": "*/*"},
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError as exc:
            last = exc
            continue
        except httpx.HTTPError as exc:
            raise FetchError(f"the URL could not be fetched ({type(exc).__name__})")
    raise FetchError(f"the URL could not be fetched ({type(last).__name__})")


def _filename(url: httpx.URL) -> str:
    name = url.path.rstrip("/").rsplit("/", 1)[-1]
    return name[:120] or "download"


def fetch_to_file(
    url: str,
    dest: IO[bytes],
    *,
    max_bytes: int | None = None,
    total_seconds: float = TOTAL_SECONDS,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Fetch ``url`` into ``dest`` under the rules above. Raises FetchError. ``transport`` is
    for tests (httpx.MockTransport); the address checks run before it is used."""
    limit = max_bytes if max_bytes is not None else settings.MAX_UPLOAD_BYTES
    deadline = clock() + total_seconds
    current = _parse(url)
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
    ) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            addresses = vetted_addresses(current)
            response = _send(client, current, addresses)
            try:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError("the URL redirected nowhere")
                    try:
                        current = _parse(str(current.join(location)))
                    except httpx.InvalidURL as exc:
                        raise FetchError(f"the URL redirected to an invalid URL ({exc})")
                    continue
                if response.status_code != 200:
                    raise FetchError(f"the URL answered HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError("the file is larger than the limit", too_large=True)
                size = 0
                try:
                    for chunk in response.iter_bytes(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise FetchError("the file is larger than the limit", too_large=True)
                        if clock() > deadline:
                            raise FetchError("the download took too long")
                        dest.write(chunk)
                except httpx.HTTPError as exc:
                    raise FetchError(f"the download broke off ({type(exc).__name__})")
                if size == 0:
                    raise FetchError("the URL returned an empty file")
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return FetchResult(
                    size=size,
                    content_type=content_type,
                    final_url=str(current),
                    filename=_filename(current),
                )
            finally:
                response.close()
    raise FetchError(f"the URL redirected more than {MAX_REDIRECTS} times")
