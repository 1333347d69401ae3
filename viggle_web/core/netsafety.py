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
- the body is streamed to the caller's file, at most ``max_bytes``;
- a watchdog thread cuts the connection (``shutdown``, which wakes a blocked read) once the
  fetch passes its total deadline (``URL_FETCH_TIMEOUT_SECONDS``) or, after a few seconds'
  grace, falls below a minimum transfer rate (``URL_FETCH_MIN_BYTES_PER_SECOND``): a server
  that trickles a byte now and then is cut off within seconds, not once per chunk;
- fetches in flight are bounded per member and per process (``fetch_slot``:
  ``URL_FETCH_MAX_PER_MEMBER``, ``URL_FETCH_MAX_IN_FLIGHT``); callers hold no database
  connection while fetching (the gateway closes it first).

Messages name neither what a host resolved to nor library errors: they reach members, and
through the token-less status endpoint anyone.

``settings.ALLOW_PRIVATE_FETCH`` (development and tests, where the simulator and test servers
live on loopback) lifts the address rule only.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import httpx
from django.conf import settings

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
CHUNK = 64 * 1024
RATE_GRACE_SECONDS = 5.0
WATCH_INTERVAL = 0.25
USER_AGENT = "ViggleStudio-fetch/1"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The URL was not fetched. ``reason`` is for the member; ``too_large`` tells a size
    refusal apart (the API answers it with its own code)."""

    def __init__(self, reason: str, *, too_large: bool = False, busy: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large
        self.busy = busy


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
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"the host {host} could not be resolved")
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
            # Which address it was stays out of the message (it maps the inside of a network).
            raise FetchError(
                f"the host {host} resolves to a private or reserved address, "
                "which cannot be fetched"
            )
    return addresses


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchError("the URL is not valid")
    if parsed.scheme not in ("http", "https"):
        raise FetchError("only http:// and https:// URLs can be fetched")
    return parsed


class _Watchdog:
    """Cuts a fetch's connection on a timer: past the total deadline, or (after a grace) below
    the minimum transfer rate. Shutting the socket down wakes a read blocked in another thread,
    which then fails; ``reason`` says why, for the member."""

    def __init__(self, *, total_seconds: float, min_rate: float) -> None:
        self.total_seconds = total_seconds
        self.min_rate = min_rate
        self.started = time.monotonic()
        self.reason: str | None = None
        self.response: httpx.Response | None = None
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="url-fetch-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's trace hook: learn each connection's stream as soon as it exists, so even a
        server that trickles its response headers can be cut off."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            if stream is not None:
                with self._lock:
                    self._streams.append(stream)
                if self.reason is not None:
                    self._shutdown(stream)

    def _shutdown(self, stream: Any) -> None:
        try:
            sock = stream.get_extra_info("socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _received(self) -> int:
        response = self.response
        return response.num_bytes_downloaded if response is not None else 0

    def _run(self) -> None:
        while not self._done.wait(WATCH_INTERVAL):
            elapsed = time.monotonic() - self.started
            if elapsed > self.total_seconds:
                self.cut(f"the download took longer than {self.total_seconds:g} seconds")
            elif elapsed > RATE_GRACE_SECONDS and self._received() / elapsed < self.min_rate:
                self.cut(
                    "the server sent the file too slowly "
                    f"(under {self.min_rate / 1024:g} KB a second)"
                )
            if self.reason is not None:
                return

    def cut(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            self._shutdown(stream)


_slots_lock = threading.Lock()
_in_flight: Counter[str] = Counter()


@contextmanager
def fetch_slot(*, member: str) -> Iterator[None]:
    """Hold one of this process's fetch slots for ``member``; FetchError(busy=True) at once
    when the member (``URL_FETCH_MAX_PER_MEMBER``) or the process (``URL_FETCH_MAX_IN_FLIGHT``)
    has as many fetches in flight as allowed."""
    per_member = int(settings.URL_FETCH_MAX_PER_MEMBER)
    total = int(settings.URL_FETCH_MAX_IN_FLIGHT)
    with _slots_lock:
        if _in_flight[member] >= per_member:
            raise FetchError(
                f"you have {per_member} URL downloads in progress, the most at once: "
                "wait for one to finish",
                busy=True,
            )
        if sum(_in_flight.values()) >= total:
            raise FetchError(
                "the server is downloading as many URLs as it can at once: try again shortly",
                busy=True,
            )
        _in_flight[member] += 1
    try:
        yield
    finally:
        with _slots_lock:
            _in_flight[member] -= 1
            if _in_flight[member] <= 0:
                del _in_flight[member]


def _send(
    client: httpx.Client,
    url: httpx.URL,
    addresses: list[str],
    watchdog: _Watchdog,
    *,
    method: str = "GET",
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Send ``method`` to ``url`` at one of its vetted ``addresses`` (the first that accepts a
    connection)."""
    host_header = url.netloc.decode("ascii")
    for address in addresses:
        extensions: dict[str, Any] = {"trace": watchdog.trace}
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        request = client.build_request(
            method,
            url.copy_with(host=address),
            headers={
                **(headers or {"Accept": "*/*"}),
                "Host": host_header,
                "User-Agent": USER_AGENT,
            },
            content=content,
            extensions=extensions,
        )
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError:
            if watchdog.reason:
                raise FetchError(watchdog.reason)
            continue
        except httpx.TimeoutException:
            raise FetchError(watchdog.reason or "the server did not answer in time")
        except httpx.HTTPError:
            raise FetchError(watchdog.reason or "the URL could not be fetched")
    raise FetchError("the server could not be reached")


def _filename(url: httpx.URL) -> str:
    name = url.path.rstrip("/").rsplit("/", 1)[-1]
    return name[:120] or "download"


def fetch_to_file(
    url: str,
    dest: IO[bytes],
    *,
    max_bytes: int | None = None,
    total_seconds: float | None = None,
    min_bytes_per_second: float | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Fetch ``url`` into ``dest`` under the rules above. Raises FetchError. ``transport`` is
    for tests (httpx.MockTransport); the address checks run before it is used."""
    limit = max_bytes if max_bytes is not None else settings.MAX_UPLOAD_BYTES
    seconds = float(
        total_seconds if total_seconds is not None else settings.URL_FETCH_TIMEOUT_SECONDS
    )
    min_rate = float(
        min_bytes_per_second
        if min_bytes_per_second is not None
        else settings.URL_FETCH_MIN_BYTES_PER_SECOND
    )
    deadline = clock() + seconds
    current = _parse(url)
    timeout = httpx.Timeout(min(READ_TIMEOUT, seconds), connect=min(CONNECT_TIMEOUT, seconds))
    with (
        _Watchdog(total_seconds=seconds, min_rate=min_rate) as watchdog,
        httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
        ) as client,
    ):
        for _hop in range(MAX_REDIRECTS + 1):
            addresses = vetted_addresses(current)
            response = _send(client, current, addresses, watchdog)
            watchdog.response = response
            try:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError("the URL redirected nowhere")
                    try:
                        current = _parse(str(current.join(location)))
                    except httpx.InvalidURL:
                        raise FetchError("the URL redirected to an invalid URL")
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
                            watchdog.cut(f"the download took longer than {seconds:g} seconds")
                            raise FetchError(watchdog.reason or "the download took too long")
                        dest.write(chunk)
                except httpx.HTTPError:
                    raise FetchError(watchdog.reason or "the download broke off")
                if watchdog.reason:
                    raise FetchError(watchdog.reason)
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


# --- webhooks: a POST to a member's URL -----------------------------------------------------------


def url_check(url: str) -> str:
    """Refuse a URL a server-side request may not go to (scheme, host, addresses), before it is
    stored: the same rules as fetches. Returns the URL, stripped."""
    try:
        vetted_addresses(_parse(url))
    except (ValueError, OSError):  # a host the resolver cannot even take (a NUL byte, ...)
        raise FetchError("the URL is not valid")
    return url.strip()


@dataclass(frozen=True)
class PostResult:
    status_code: int
    body: bytes  # at most ``max_response_bytes`` of it


def post(
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout_seconds: float,
    max_response_bytes: int,
    transport: httpx.BaseTransport | None = None,
) -> PostResult:
    """POST ``content`` to ``url`` under the address rules above: the vetted address is
    connected to (no second DNS answer), no redirect is followed (a 3xx is the answer), the
    whole exchange has ``timeout_seconds`` and at most ``max_response_bytes`` of the answer is
    read. Raises FetchError."""
    current = _parse(url)
    addresses = vetted_addresses(current)
    timeout = httpx.Timeout(timeout_seconds)
    with (
        _Watchdog(total_seconds=timeout_seconds, min_rate=0.0) as watchdog,
        httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
        ) as client,
    ):
        response = _send(
            client, current, addresses, watchdog, method="POST", content=content, headers=headers
        )
        watchdog.response = response
        body = b""
        try:
            for chunk in response.iter_bytes(CHUNK):
                body += chunk
                if len(body) >= max_response_bytes:
                    body = body[:max_response_bytes]
                    break
        except httpx.HTTPError:
            if watchdog.reason:
                raise FetchError(watchdog.reason)
        finally:
            response.close()
        return PostResult(status_code=response.status_code, body=body)
