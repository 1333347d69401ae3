"""The client's address, the same for login throttling (axes), the API's rate limits and the
audit log.

Without configuration the address is the connection's peer (``REMOTE_ADDR``) and
``X-Forwarded-For`` is ignored: anyone can write that header. Behind reverse proxies, say how
many there are (``TRUSTED_PROXY_COUNT``: each appends the address it received the request from,
as nginx's ``$proxy_add_x_forwarded_for`` and cloud load balancers do) and, best, their
addresses (``TRUSTED_PROXY_IPS``: a request whose peer is not one of them reached the app
directly and is judged by its own address). django-ipware picks the entry the last trusted
proxy wrote; whatever a client wrote in front of it is ignored.

The web server must not rewrite the peer address itself: bin/run starts uvicorn with
``--no-proxy-headers`` and the Procfile uses ``viggle_web.server.UvicornWorker``.
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from python_ipware import IpWare

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_ip", default=None)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _peer_is_trusted(peer: str) -> bool:
    entries = tuple(settings.TRUSTED_PROXY_IPS)
    if not entries:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in _networks(entries))


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as this deployment's trusted proxies report it (None when the
    request has no peer address at all, as in Django's test client's force_login)."""
    peer = str(request.META.get("REMOTE_ADDR") or "")
    count = int(settings.TRUSTED_PROXY_COUNT)
    if count <= 0 or not _peer_is_trusted(peer):
        return peer or None
    # The peer is the last proxy; the header holds what the proxies before it (count - 1 of
    # them) and the first proxy saw. Not strict: extra entries a client wrote are ignored.
    ipware = IpWare(precedence=("HTTP_X_FORWARDED_FOR",), leftmost=True, proxy_count=count - 1)
    found, _trusted = ipware.get_client_ip(request.META, strict=False)
    return str(found) if found is not None else (peer or None)


def current_client_ip() -> str | None:
    """The address of the request being served (for the audit log), if any."""
    return _current.get()


class ClientAddressMiddleware:
    """Works out the client's address once per request: ``request.client_ip``, and for code
    without the request (the audit log) ``current_client_ip()``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        address = client_ip(request)
        request.client_ip = address  # type: ignore[attr-defined]
        token = _current.set(address)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
