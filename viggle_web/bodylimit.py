"""Refuse oversized request bodies at the ASGI layer, before Django reads a byte of them.

Django's ASGI handler spools the whole body to a temporary file before authentication, CSRF or
any upload handler runs, so a limit has to sit in front of it. This middleware wraps the app
(viggle_web/asgi.py) and answers 413 when

- the declared ``Content-Length`` is over the request's limit (nothing is read), or
- a body without one (chunked) passes the limit while it streams (the app then sees the client
  as gone and stops; at most the limit plus one chunk was read).

Limits (settings):

- ``MAX_ANONYMOUS_REQUEST_BYTES`` (64 KiB): a request without credentials. A request counts as
  anonymous unless it carries a session cookie or an ``Authorization`` header *that is valid*:
  the credentials are looked up (one query) only when a body grows past the anonymous limit, so
  a made-up cookie buys nothing.
- ``MAX_REQUEST_BYTES`` (5 MiB): a signed-in request to any view but an upload view.
- ``MAX_UPLOAD_REQUEST_BYTES`` (two files of ``MAX_UPLOAD_BYTES`` plus 1 MiB of form): a
  signed-in request to a view marked with ``core.uploads.accepts_uploads``. The per-file limit
  (``MAX_UPLOAD_BYTES``) is then applied by the views' upload handlers while the body streams.

The answer is JSON in Viggle's error shape under ``/api/`` and plain text elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.urls import Resolver404, resolve

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _is_upload_path(path: str) -> bool:
    try:
        match = resolve(path)
    except (Resolver404, ValueError):
        return False
    return bool(getattr(match.func, "accepts_uploads", False))


def _credentials_valid(session_key: str | None, authorization: str | None) -> bool:
    """Whether the request's session is a live member's, or its bearer token is live."""
    from django.contrib.auth import SESSION_KEY
    from django.db import close_old_connections, connection

    from viggle_web.accounts.models import User
    from viggle_web.gateway.models import ApiToken
    from viggle_web.gateway.services import TOKEN_PREFIX, token_hash

    try:
        if authorization:
            scheme, _, raw = authorization.strip().partition(" ")
            raw = raw.strip()
            if scheme.lower() == "bearer" and raw.startswith(TOKEN_PREFIX) and len(raw) <= 200:
                live = ApiToken.objects.filter(
                    token_hash=token_hash(raw), revoked_at__isnull=True, user__is_active=True
                )
                if live.exists():
                    return True
        if session_key and len(session_key) <= 64:
            from importlib import import_module

            store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
            user_id = store.get(SESSION_KEY)
            if user_id is not None and str(user_id).isdigit():
                return User.objects.filter(pk=int(user_id), is_active=True).exists()
        return False
    finally:
        # This runs outside Django's request cycle: give the connection back now.
        connection.close()
        close_old_connections()


def _headers(scope: Scope) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {}
    for name, value in scope.get("headers") or []:
        key = name.lower()
        if key == b"cookie" and key in headers:
            value = headers[key] + b"; " + value
        headers[key] = value
    return headers


def _limit_text(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):.0f} MB"
    return f"{max(1, limit // 1024)} KB"


class BodyLimitMiddleware:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope.get("path") or "/"
        anonymous_limit = int(settings.MAX_ANONYMOUS_REQUEST_BYTES)
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        session_key: str | None = None
        if b"cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers[b"cookie"].decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is simply no session
                cookie = SimpleCookie()
            morsel = cookie.get(settings.SESSION_COOKIE_NAME)
            session_key = morsel.value if morsel else None
        has_credentials = bool(authorization or session_key)
        full_limit = (
            int(settings.MAX_UPLOAD_REQUEST_BYTES)
            if _is_upload_path(path)
            else int(settings.MAX_REQUEST_BYTES)
        )
        state = {"limit": anonymous_limit, "checked": False, "received": 0, "answered": False}

        async def raise_limit() -> bool:
            """Check the credentials once; a valid one lifts the limit to the full one."""
            if not state["checked"]:
                state["checked"] = True
                if has_credentials and await sync_to_async(
                    _credentials_valid, thread_sensitive=False
                )(session_key, authorization):
                    state["limit"] = max(full_limit, anonymous_limit)
            return state["limit"] > anonymous_limit

        async def refuse() -> None:
            state["answered"] = True
            anonymous = state["limit"] <= anonymous_limit
            limit = state["limit"]
            if anonymous and full_limit > limit:
                message = (
                    f"The request body is too large: at most {_limit_text(limit)} without "
                    "signing in."
                )
            else:
                message = f"The request body is too large: at most {_limit_text(limit)}."
            if path.startswith("/api/"):
                from viggle_web.gateway.errors import FILE_TOO_LARGE, error_body

                body = json.dumps(error_body(FILE_TOO_LARGE, message)).encode()
                content_type = b"application/json"
            else:
                body = message.encode() + b"\n"
                content_type = b"text/plain; charset=utf-8"
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", content_type),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})

        declared_raw = headers.get(b"content-length")
        if declared_raw is not None and declared_raw.strip().isdigit():
            declared = int(declared_raw)
            if declared > state["limit"] and (not await raise_limit() or declared > state["limit"]):
                await refuse()
                return

        async def limited_receive() -> Message:
            if state["answered"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > state["limit"] and (
                    not await raise_limit() or state["received"] > state["limit"]
                ):
                    await refuse()
                    # Django's handler takes this as the client gone and stops reading.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not state["answered"]:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)
