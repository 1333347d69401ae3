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

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from viggle_web.viggle.transport import (
    Transport,
    _fields,
    _files,
    _list,
    _seg,
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

T = TypeVar("T")


class ViggleClient(Transport):
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

    # --- characters and scenes: one shape, two collections --------------------------------

    def character_preprocess(
        self, *, name: str, image: Upload | None = None, image_url: str | None = None
    ) -> Preprocessed:
        fields = _fields(name=name, image_url=image_url)
        return self._preprocess("characters", fields, _files(image=image))

    def character_get(self, character_id: str) -> Character:
        return self._parse(Character.from_json, self._item("GET", "characters", character_id))

    def character_list(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Character], int]:
        return self._page("characters", Character.from_json, limit=limit, offset=offset)

    def character_delete(self, character_id: str) -> None:
        self._item("DELETE", "characters", character_id)

    def scene_preprocess(
        self,
        *,
        name: str,
        video: Upload | None = None,
        video_url: str | None = None,
        background_mode: str | None = None,
        model: str | None = None,
    ) -> Preprocessed:
        fields = _fields(
            name=name, video_url=video_url, background_mode=background_mode, model=model
        )
        return self._preprocess("scenes", fields, _files(video=video))

    def scene_get(self, scene_id: str) -> Scene:
        return self._parse(Scene.from_json, self._item("GET", "scenes", scene_id))

    def scene_list(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Scene], int]:
        return self._page("scenes", Scene.from_json, limit=limit, offset=offset)

    def scene_delete(self, scene_id: str) -> None:
        self._item("DELETE", "scenes", scene_id)

    def _preprocess(
        self, collection: str, fields: dict[str, Any], files: dict[str, Any]
    ) -> Preprocessed:
        data = self._call(
            "POST", f"api/{collection}/preprocess", data=fields, files=files, idempotent=False
        )
        id_field = collection.removesuffix("s") + "_id"  # character_id, scene_id
        return self._parse(lambda d: Preprocessed.from_json(d, id_field), data)

    def _item(self, method: str, collection: str, pk: str) -> Any:
        return self._call(method, f"api/{collection}/{_seg(pk)}", idempotent=True)

    def _page(
        self, collection: str, parse: Callable[[Any], T], *, limit: int, offset: int
    ) -> tuple[list[T], int]:
        params = {"limit": limit, "offset": offset}
        data = self._call("GET", f"api/{collection}", params=params, idempotent=True)
        return self._parse(lambda d: _list(d, collection, parse), data)

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

    # --- plumbing --------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if not self.__api_key:
            return {}  # Viggle answers 401 CS-UORC01-006, which says what is wrong
        return {"Authorization": f"Bearer {self.__api_key}"}

    def _scrub(self, text: str) -> str:
        if self.__api_key and self.__api_key in text:
            return text.replace(self.__api_key, "[redacted]")
        return text


# --- one client per process ----------------------------------------------------------------

_lock = threading.Lock()
_client: ViggleClient | None = None
_client_config: tuple[Any, ...] | None = None


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
