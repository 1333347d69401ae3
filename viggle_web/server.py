"""The gunicorn worker class for production (Procfile): uvicorn's, with its proxy-header
rewriting off. The client's address is worked out by the app from its configured trusted
proxies (viggle_web/core/clientip.py); uvicorn would otherwise believe X-Forwarded-For from
any loopback peer."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker as _UvicornWorker

# How much of a request body uvicorn keeps unread before it stops reading the socket.
BODY_HIGH_WATER = 1024 * 1024


def uvicorn_tune() -> None:
    """Raise uvicorn's flow-control mark for request bodies from 64 KB to BODY_HIGH_WATER.

    uvicorn pauses the socket whenever 64 KB of body wait for the app and resumes it on the
    next ``receive()``: a 400 MB upload is then 6,400 pause/resume turns of the event loop, which
    on its own took longer than the whole loopback copy (docs/performance.md). The mark is a
    module constant read at each chunk (``HIGH_WATER_LIMIT``); called from viggle_web/asgi.py
    so every way of starting the server has it. A connection holds at most this much more."""
    for name in ("httptools_impl", "h11_impl"):
        try:
            module = importlib.import_module(f"uvicorn.protocols.http.{name}")
        except ImportError:
            continue
        if getattr(module, "HIGH_WATER_LIMIT", BODY_HIGH_WATER) < BODY_HIGH_WATER:
            module.HIGH_WATER_LIMIT = BODY_HIGH_WATER


class UvicornWorker(_UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **_UvicornWorker.CONFIG_KWARGS,
        "proxy_headers": False,
    }
