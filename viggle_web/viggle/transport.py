"""The plumbing of the Viggle client: one call with its retries (idempotent calls on transient
errors, paid calls only when the request provably did not reach Viggle), failures turned into
``ViggleError`` (``retryable`` says whether trying again can help), CDN downloads, and the
helpers that build multipart fields. ``client.ViggleClient`` adds the endpoints and holds the key.
"""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypedDict, Unpack

import httpx

from viggle_web.viggle.errors import (
    AMBIGUOUS,
    CONNECTION,
    MALFORMED,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
    ViggleError,
    parse_error_body,
)
from viggle_web.viggle.types import Upload

logger = logging.getLogger("viggle_web.viggle")


# A Retry-After longer than this is not slept through: the error goes to the caller, whose
# scheduler can come back later without holding a worker.
MAX_RETRY_AFTER_SECONDS = 60.0
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


class _Request(TypedDict, total=False):
    """What a call sends besides its method and path (see ``_attempt``)."""

    auth: bool
    params: Mapping[str, Any] | None
    data: dict[str, str] | None
    files: dict[str, tuple[str, BinaryIO, str]] | None
    json_body: Any


@dataclass
class _Failure:
    """One failed attempt: the error to raise, and whether repeating a paid call is safe."""

    error: ViggleError
    may_repeat_unsafe: bool = False


class Transport:
    """What ``ViggleClient`` builds its endpoints on. The client sets the pool (``_http``), the
    timeouts, ``max_retries`` and ``sleep``, and keeps the key (``_auth_headers``, ``_scrub``)."""

    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _scrub(self, text: str) -> str:
        raise NotImplementedError

    # --- CDN -------------------------------------------------------------------------------

    def download(self, url: str, dest: BinaryIO) -> int:
        """Stream a public CDN file into `dest`; returns the bytes written.

        Sent without the API key (CDN URLs are public and may be on another host). Retried
        from scratch on transient errors only when `dest` can be rewound and truncated.
        """
        try:
            rewindable = bool(dest.seekable())
            start = dest.tell() if rewindable else 0
        except (AttributeError, OSError, ValueError):
            rewindable, start = False, 0
        attempt = 0
        while True:
            written = 0
            failure: _Failure | None = None
            try:
                with self._http.stream(
                    "GET", url, follow_redirects=True, timeout=httpx.Timeout(self.upload_timeout)
                ) as response:
                    if response.status_code != 200:
                        response.read()
                        failure = self._status_failure(response, idempotent=True)
                    else:
                        for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                            dest.write(chunk)
                            written += len(chunk)
            except httpx.HTTPError as exc:
                failure = self._transport_failure(exc, idempotent=True)
            if failure is None:
                return written
            error = failure.error
            may_retry = error.retryable and attempt < self.max_retries
            if may_retry and written and not rewindable:
                may_retry = False
            if not may_retry:
                raise error
            if rewindable:
                dest.seek(start)
                dest.truncate()
            self._pause_before_retry(error, attempt, "Viggle download of a result file")
            attempt += 1

    def _parse(self, parser: Callable[[Any], Any], data: Any) -> Any:
        try:
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            return parser(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = str(exc)
        raise ViggleError(
            f"Viggle's answer is missing expected fields: {problem}",
            code=MALFORMED,
            retryable=False,
        )

    def _call(
        self, method: str, path: str, *, idempotent: bool, **request: Unpack[_Request]
    ) -> Any:
        attempt = 0
        while True:
            result, failure = self._attempt(method, path, idempotent=idempotent, **request)
            if failure is None:
                return result
            error = failure.error
            repeatable = idempotent or failure.may_repeat_unsafe
            if not (error.retryable and repeatable and attempt < self.max_retries):
                raise error
            self._pause_before_retry(error, attempt, f"Viggle {method} /{_path_for_log(path)}")
            attempt += 1

    def _pause_before_retry(self, error: ViggleError, attempt: int, what: str) -> None:
        """Wait (and say so) before retry number ``attempt + 1``; raise ``error`` instead when
        Viggle asks for a longer wait than we allow."""
        delay = self._retry_delay(error, attempt, what)
        if delay is None:
            raise error
        self.sleep(delay)

    def _retry_delay(self, error: ViggleError, attempt: int, what: str) -> float | None:
        """Seconds before retry number ``attempt + 1``, logged; None (nothing logged) when Viggle
        asks for a longer wait than we allow. Also the status fetcher's, which waits on its
        event loop instead of sleeping."""
        delay = self._backoff(attempt, error.retry_after)
        if delay is not None:
            logger.warning("%s failed (%s), retry %d in %.1fs", what, error, attempt + 1, delay)
        return delay

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        auth: bool = True,
        params: Mapping[str, Any] | None = None,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, BinaryIO, str]] | None = None,
        json_body: Any = None,
    ) -> tuple[Any, _Failure | None]:
        headers = self._auth_headers() if auth else {}
        timeout = (
            httpx.Timeout(self.upload_timeout, connect=min(self.timeout, self.upload_timeout))
            if files
            else httpx.Timeout(self.timeout)
        )
        kwargs: dict[str, Any] = {"headers": headers, "timeout": timeout}
        if params:
            kwargs["params"] = params
        if data:
            kwargs["data"] = data
        if files:
            kwargs["files"] = files
        if json_body is not None:
            kwargs["json"] = json_body
        response: httpx.Response | None = None
        failure: _Failure | None = None
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            failure = self._transport_failure(exc, idempotent=idempotent)
        if failure is not None:
            return None, failure
        assert response is not None
        if 200 <= response.status_code < 300:
            if response.status_code == 204 or not response.content.strip():
                return {}, None
            try:
                return response.json(), None
            except ValueError:
                pass
            if idempotent:
                return None, _Failure(
                    ViggleError(
                        "Viggle sent a malformed JSON answer",
                        status=response.status_code,
                        code=MALFORMED,
                        retryable=True,
                    )
                )
            # The call went through (2xx) but we cannot read the job id: it may exist.
            return None, _Failure(
                ViggleError(
                    "Viggle accepted the request but its answer was unreadable: the job may "
                    "have started. Check before trying again.",
                    status=response.status_code,
                    code=AMBIGUOUS,
                    retryable=False,
                )
            )
        return None, self._status_failure(response, idempotent=idempotent)

    def _status_failure(self, response: httpx.Response, *, idempotent: bool) -> _Failure:
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        code, message = parse_error_body(body)
        if message is None:
            text = response.text.strip() if response.content else ""
            message = text[:200] if text and body is not None else response.reason_phrase
        message = self._scrub(message or f"HTTP {status}")
        if status == 429 or status >= 500:
            return _Failure(
                ViggleError(
                    message,
                    status=status,
                    code=code or (RATE_LIMITED if status == 429 else SERVER_ERROR),
                    retryable=True,
                    retry_after=_retry_after(response.headers.get("Retry-After")),
                ),
                # A 429 is refused before processing: repeating even a paid call is safe.
                may_repeat_unsafe=status == 429,
            )
        if status == 401 and code is None:
            # The plain-string 401 body carries no code: we know whether we sent a key.
            code = "CS-UORC01-007" if self._auth_headers() else "CS-UORC01-006"
        return _Failure(ViggleError(message, status=status, code=code, retryable=False))

    def _transport_failure(self, exc: httpx.HTTPError, *, idempotent: bool) -> _Failure:
        kind = type(exc).__name__
        detail = self._scrub(str(exc))[:200]
        if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
            # Our request could not even be formed (bad header, bad URL): retrying cannot help.
            return _Failure(
                ViggleError(f"Invalid request to Viggle ({kind}: {detail})", retryable=False)
            )
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            # Nothing reached the server: safe to repeat any call.
            code = TIMEOUT if isinstance(exc, httpx.TimeoutException) else CONNECTION
            return _Failure(
                ViggleError(
                    f"Could not connect to Viggle ({kind}: {detail})", code=code, retryable=True
                ),
                may_repeat_unsafe=True,
            )
        if isinstance(exc, httpx.TransportError):
            code = TIMEOUT if isinstance(exc, httpx.TimeoutException) else CONNECTION
            if idempotent:
                return _Failure(
                    ViggleError(
                        f"Viggle connection failed ({kind}: {detail})", code=code, retryable=True
                    )
                )
            return _Failure(
                ViggleError(
                    f"The connection to Viggle failed after the request was sent ({kind}): "
                    "it may or may not have been processed. Check before trying again.",
                    code=AMBIGUOUS,
                    retryable=False,
                )
            )
        # Anything else from httpx (invalid URL, too many redirects, ...) is a bug or config.
        return _Failure(ViggleError(f"Viggle request failed ({kind}: {detail})", retryable=False))

    def _backoff(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up now."""
        delay = min(self.backoff_cap, self.backoff_base * (2**attempt))
        delay = delay / 2 + random.uniform(0, delay / 2)  # equal jitter
        if retry_after is not None:
            if retry_after > MAX_RETRY_AFTER_SECONDS:
                return None
            delay = max(delay, retry_after)
        return delay


def _fields(**values: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _files(**uploads: Upload | None) -> dict[str, tuple[str, BinaryIO, str]]:
    return {
        key: (upload.filename, upload.fileobj, upload.content_type)
        for key, upload in uploads.items()
        if upload is not None
    }


def _seg(ident: str) -> str:
    """An id as one URL path segment (ids are opaque: never let one change the path)."""
    from urllib.parse import quote

    return quote(str(ident), safe="")


def _list(
    data: dict[str, Any], key: str, parse: Callable[[dict[str, Any]], Any]
) -> tuple[list[Any], int]:
    items = data.get(key)
    if items is None:
        items = data.get("items", data.get("data", []))
    parsed = [parse(item) for item in items or [] if isinstance(item, dict)]
    try:
        total = int(data.get("total", len(parsed)))
    except (TypeError, ValueError):
        total = len(parsed)
    return parsed, total


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_ID_FREE_SEGMENTS = {"api", "render", "characters", "scenes", "preprocess", "import", "credits"}


def _path_for_log(path: str) -> str:
    """The request path with upstream ids masked: Viggle's status endpoint needs no auth, so an
    id in a log aggregator would be a readable video for anyone with log access."""
    return "/".join(
        part if part in _ID_FREE_SEGMENTS or not part else "{id}" for part in path.split("/")
    )
