"""The gunicorn worker class for production (Procfile): uvicorn's, with its proxy-header
rewriting off. The client's address is worked out by the app from its configured trusted
proxies (viggle_web/core/clientip.py); uvicorn would otherwise believe X-Forwarded-For from
any loopback peer."""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker as _UvicornWorker


class UvicornWorker(_UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **_UvicornWorker.CONFIG_KWARGS,
        "proxy_headers": False,
    }
