"""The only module that speaks HTTP to Viggle (or to the simulator, which speaks the same contract).

Rules it keeps:
- the API key goes only into the Authorization header of calls that need it, built per request;
  it is never logged, never in a repr, an error message or an exception chain;
- idempotent calls (GET, DELETE) are retried on transient errors with capped exponential
  backoff and jitter, honouring Retry-After;
- calls that cost credits (render, preprocess, template import) are repeated only when the
  request provably did not reach Viggle (connect error) or was refused unprocessed (429), so the
  client never starts a second paid job by itself;
- uploads stream from the file objects in chunks (bounded memory for 500 MB videos).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

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
from viggle_web.viggle.types import (
    Character,
    Credits,
    Preprocessed,
    RenderCreated,
    RenderStatus,
    Scene,
    TemplateImport,
    Upload,
)

logger = logging.getLogger("viggle_web.viggle")

USER_AGENT = "viggle-studio/0.1 (+httpx)"
# A Retry-After longer than this is not slept through: the error goes to the caller, whose
# scheduler can come back later without holding a worker.
MAX_RETRY_AFTER_SECONDS = 60.0
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


@dataclass
class _Failure:
    """One failed attempt: the error to raise, and whether repeating a paid call is safe."""

    error: ViggleError
    may_repeat_unsafe: bool = False


class ViggleClient:
    """A pooled, thread-safe client for the whole documented Viggle API."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float,
        upload_timeout: float,
        max_retries: int,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_connections: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.__api_key = api_key
        self.timeout = timeout
        self.upload_timeout = upload_timeout
        self.max_retries = max(0, int(max_retries))
        self.sleep = sleep
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
            # As many kept connections as the poller has requests in flight, or polls reconnect.
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    def __repr__(self) -> str:
        return f"<ViggleClient base_url={self.base_url!r}>"

    def matches(self, *, base_url: str, api_key: str) -> bool:
        return self.base_url == base_url.rstrip("/") and self.__api_key == api_key

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ViggleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- renders ---------------------------------------------------------------------------

    def render_create(
        self,
        *,
        ref_image: Upload | None = None,
        ref_image_url: str | None = None,
        driving_video: Upload | None = None,
        driving_video_url: str | None = None,
        character_id: str | None = None,
        scene_id: str | None = None,
        character_mapping: dict[str, str] | None = None,
        model: str | None = None,
        background_mode: str | None = None,
        bg_color: str | None = None,
        fast: bool | None = None,
    ) -> RenderCreated:
        fields = _fields(
            ref_image_url=ref_image_url,
            driving_video_url=driving_video_url,
            character_id=character_id,
            scene_id=scene_id,
            character_mapping=(
                json.dumps(character_mapping) if character_mapping is not None else None
            ),
            model=model,
            background_mode=background_mode,
            bg_color=bg_color,
            fast=fast,
        )
        files = _files(ref_image=ref_image, driving_video=driving_video)
        data = self._call("POST", "api/render", data=fields, files=files, idempotent=False)
        return self._parse(RenderCreated.from_json, data)

    def render_status(self, job_id: str) -> RenderStatus:
        # Documented as the one call without auth: send none.
        data = self._call("GET", f"api/render/{_seg(job_id)}", auth=False, idempotent=True)
        return self._parse(lambda d: RenderStatus.from_json(d, job_id=job_id), data)

    def render_cancel(self, job_id: str) -> dict[str, Any]:
        data = self._call("DELETE", f"api/render/{_seg(job_id)}", idempotent=True)
        return data if isinstance(data, dict) else {"result": data}

    # --- characters ------------------------------------------------------------------------

    def character_preprocess(
        self, *, name: str, image: Upload | None = None, image_url: str | None = None
    ) -> Preprocessed:
        data = self._call(
            "POST",
            "api/characters/preprocess",
            data=_fields(name=name, image_url=image_url),
            files=_files(image=image),
            idempotent=False,
        )
        return self._parse(lambda d: Preprocessed.from_json(d, "character_id"), data)

    def character_get(self, character_id: str) -> Character:
        data = self._call("GET", f"api/characters/{_seg(character_id)}", idempotent=True)
        return self._parse(Character.from_json, data)

    def character_list(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Character], int]:
        data = self._call(
            "GET",
            "api/characters",
            params={"limit": limit, "offset": offset},
            idempotent=True,
        )
        return self._parse(lambda d: _list(d, "characters", Character.from_json), data)

    def character_delete(self, character_id: str) -> None:
        self._call("DELETE", f"api/characters/{_seg(character_id)}", idempotent=True)

    # --- scenes ----------------------------------------------------------------------------

    def scene_preprocess(
        self,
        *,
        name: str,
        video: Upload | None = None,
        video_url: str | None = None,
        background_mode: str | None = None,
        model: str | None = None,
    ) -> Preprocessed:
        data = self._call(
            "POST",
            "api/scenes/preprocess",
            data=_fields(
                name=name, video_url=video_url, background_mode=background_mode, model=model
            ),
            files=_files(video=video),
            idempotent=False,
        )
        return self._parse(lambda d: Preprocessed.from_json(d, "scene_id"), data)

    def scene_get(self, scene_id: str) -> Scene:
        data = self._call("GET", f"api/scenes/{_seg(scene_id)}", idempotent=True)
        return self._parse(Scene.from_json, data)

    def scene_list(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Scene], int]:
        data = self._call(
            "GET", "api/scenes", params={"limit": limit, "offset": offset}, idempotent=True
        )
        return self._parse(lambda d: _list(d, "scenes", Scene.from_json), data)

    def scene_delete(self, scene_id: str) -> None:
        self._call("DELETE", f"api/scenes/{_seg(scene_id)}", idempotent=True)

    def template_import(self, *, template_id: str, name: str) -> TemplateImport:
        data = self._call(
            "POST",
            "api/scenes/import",
            json_body={"template_id": template_id, "name": name},
            idempotent=False,
        )
        return self._parse(TemplateImport.from_json, data)

    # --- account ---------------------------------------------------------------------------

    def credits(self) -> Credits:
        data = self._call("GET", "api/credits", idempotent=True)
        return self._parse(Credits.from_json, data)

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
            delay = self._backoff(attempt, error.retry_after)
            if delay is None:
                raise error
            logger.warning(
                "Viggle download of a result file failed (%s), retry %d in %.1fs",
                error,
                attempt + 1,
                delay,
            )
            self.sleep(delay)
            attempt += 1

    # --- plumbing --------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if not self.__api_key:
            return {}  # Viggle answers 401 CS-UORC01-006, which says what is wrong
        return {"Authorization": f"Bearer {self.__api_key}"}

    def _scrub(self, text: str) -> str:
        if self.__api_key and self.__api_key in text:
            return text.replace(self.__api_key, "[redacted]")
        return text

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
    ) -> Any:
        attempt = 0
        while True:
            result, failure = self._attempt(
                method,
                path,
                idempotent=idempotent,
                auth=auth,
                params=params,
                data=data,
                files=files,
                json_body=json_body,
            )
            if failure is None:
                return result
            error = failure.error
            repeatable = idempotent or failure.may_repeat_unsafe
            if not (error.retryable and repeatable and attempt < self.max_retries):
                raise error
            delay = self._backoff(attempt, error.retry_after)
            if delay is None:
                raise error
            logger.warning(
                "Viggle %s /%s failed (%s), retry %d in %.1fs",
                method,
                _path_for_log(path),
                error,
                attempt + 1,
                delay,
            )
            self.sleep(delay)
            attempt += 1

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        auth: bool,
        params: Mapping[str, Any] | None,
        data: dict[str, str] | None,
        files: dict[str, tuple[str, BinaryIO, str]] | None,
        json_body: Any,
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
        if status == 429:
            return _Failure(
                ViggleError(
                    message,
                    status=status,
                    code=code or RATE_LIMITED,
                    retryable=True,
                    retry_after=_retry_after(response.headers.get("Retry-After")),
                ),
                # Refused before processing: repeating even a paid call is safe.
                may_repeat_unsafe=True,
            )
        if status >= 500:
            return _Failure(
                ViggleError(
                    message,
                    status=status,
                    code=code or SERVER_ERROR,
                    retryable=True,
                    retry_after=_retry_after(response.headers.get("Retry-After")),
                )
            )
        if status == 401 and code is None:
            # The plain-string 401 body carries no code: we know whether we sent a key.
            code = "CS-UORC01-007" if self.__api_key else "CS-UORC01-006"
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


# --- one client per process ----------------------------------------------------------------

_lock = threading.Lock()
_client: ViggleClient | None = None
_client_config: tuple[Any, ...] | None = None


_ID_FREE_SEGMENTS = {"api", "render", "characters", "scenes", "preprocess", "import", "credits"}


def _path_for_log(path: str) -> str:
    """The request path with upstream ids masked: Viggle's status endpoint needs no auth, so an
    id in a log aggregator would be a readable video for anyone with log access."""
    return "/".join(
        part if part in _ID_FREE_SEGMENTS or not part else "{id}" for part in path.split("/")
    )


def get_client() -> ViggleClient:
    """The process's pooled client, built from settings read now (rebuilt when they change)."""
    from django.conf import settings

    global _client, _client_config
    config = (
        settings.VIGGLE_BASE_URL.rstrip("/"),
        hashlib.sha256(settings.VIGGLE_API_KEY.encode()).hexdigest(),
        float(settings.VIGGLE_TIMEOUT_SECONDS),
        float(settings.VIGGLE_UPLOAD_TIMEOUT_SECONDS),
        int(settings.VIGGLE_MAX_RETRIES),
        # The poller's requests in flight, plus room for sends, downloads and web requests.
        int(settings.POLLER_CONCURRENCY) + 16,
    )
    with _lock:
        if _client is None or _client_config != config:
            # The old client is not closed here: another thread may still be using it; its
            # connections close when it is garbage-collected.
            _client = ViggleClient(
                base_url=config[0],
                api_key=settings.VIGGLE_API_KEY,
                timeout=config[2],
                upload_timeout=config[3],
                max_retries=config[4],
                max_connections=config[5],
            )
            _client_config = config
        return _client
