"""The simulator's HTTP endpoints: the documented Viggle API, a public CDN and a test control.

Every endpoint goes through `endpoint()`, which logs the call, applies fault knobs and checks
the bearer key (except where the contract says no auth).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import wraps
from typing import IO, Any

import httpx
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import transaction
from django.db.models import F
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from viggle_web.core.uploads import limit_uploads
from viggle_web.simulator import engine, fastpath, media
from viggle_web.simulator.models import (
    SimCall,
    SimCharacter,
    SimFault,
    SimJob,
    SimScene,
)
from viggle_web.viggle.colour import parse_bg_color

MAX_FILE_BYTES = 500 * 1024 * 1024
MAX_VIDEO_SECONDS = 300.0
MAX_SIDE = 4096
MODELS = ("V4_Preview", "V3_Preview")
BACKGROUND_MODES = {
    "original": "original",
    "inpaint": "original",
    "solid": "solid",
    "transparent": "transparent",
}
LEGACY_CODES = {
    "CS-UORC01-006": "CS-ORAU-001",
    "CS-UORC01-007": "CS-ORAU-002",
    "CS-UORC01-008": "CS-ORCR-001",
}
ACTIONS = {
    "CS-UORC01-001": "Retry with fast=false or wait",
    "CS-UORC01-006": "Send Authorization: Bearer sk-...",
    "CS-UORC01-007": "Check your API key",
    "CS-UORC01-008": "Purchase more credits",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def error_response(status: int, code: str, message: str) -> JsonResponse:
    if engine.get_state().error_style == "legacy":
        return JsonResponse(
            {"error_code": LEGACY_CODES.get(code, code), "message": message}, status=status
        )
    action = ACTIONS.get(code, "Check your request parameters")
    return JsonResponse(
        {"detail": {"error_code": code, "message": message, "action": action}}, status=status
    )


# --- the endpoint wrapper: calls log, faults, auth ---------------------------------------------


def logical_path(request: HttpRequest) -> str:
    """The request path as the API sees it (without the /_sim mount prefix)."""
    mount = reverse("simulator:control")[: -len("control")]
    path = request.path
    return "/" + path[len(mount) :] if path.startswith(mount) else path


def bearer_key(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return header[7:].strip() or None


def _pick_faults(request: HttpRequest, path: str, key: str | None) -> list[SimFault]:
    fired: list[SimFault] = []
    for fault in fastpath.faults.all():  # a copy of at most 0.5 s (control forgets it on a change)
        if fault.api_key and fault.api_key != key:
            continue
        if fault.path_prefix and not path.startswith(fault.path_prefix):
            continue
        if fault.method and fault.method.upper() != request.method:
            continue
        if fault.rate < 1.0 and random.random() >= fault.rate:
            continue
        if fault.remaining is not None:
            taken = SimFault.objects.filter(pk=fault.pk, remaining__gt=0).update(
                remaining=F("remaining") - 1
            )
            if not taken:
                continue
        fired.append(fault)
        if fault.kind != SimFault.Kind.LATENCY:
            break  # one failure per request; latencies add up before it
    return fired


def _fault_response(fault: SimFault) -> HttpResponse:
    if fault.kind == SimFault.Kind.RATE_LIMIT:
        response: HttpResponse = JsonResponse({"detail": "Rate limit exceeded"}, status=429)
        if fault.retry_after is not None:
            response["Retry-After"] = f"{fault.retry_after:g}"
        return response
    if fault.kind == SimFault.Kind.E502:
        # What a gateway in front of the API sends: HTML, not JSON.
        return HttpResponse(
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            status=502,
            content_type="text/html",
        )
    status = int(fault.kind)
    response = JsonResponse({"detail": "Internal Server Error"}, status=status)
    if fault.retry_after is not None:
        response["Retry-After"] = f"{fault.retry_after:g}"
    return response


def _body_of(response: HttpResponse) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content


def _corrupt(request: HttpRequest, response: HttpResponse, kind: str) -> HttpResponse:
    body = _body_of(response)
    half = body[: max(1, len(body) // 2)]
    if kind == SimFault.Kind.MALFORMED:
        broken = HttpResponse(half, status=response.status_code)
        broken["Content-Type"] = response.get("Content-Type", "application/json")
        return broken
    # Dropped connection: promise the whole body, send half, then shut the socket, so the
    # client sees the peer close mid-body (httpx: RemoteProtocolError).
    sock = _client_socket(request)

    def half_then_hang_up() -> Iterator[bytes]:
        yield half
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        else:  # unknown server: an error mid-body makes most servers close the connection
            raise ConnectionAbortedError("simulated dropped connection")

    dropped = StreamingHttpResponse(half_then_hang_up(), status=response.status_code)
    dropped["Content-Type"] = response.get("Content-Type", "application/json")
    dropped["Content-Length"] = str(len(body))
    return dropped


def _client_socket(request: HttpRequest) -> socket.socket | None:
    """The connection's socket under Django's WSGI server (wsgi.input wraps its file)."""
    stream: Any = request.environ.get("wsgi.input")
    # LimitedStream keeps the bound read() of the handler's rfile (a buffered SocketIO).
    stream = getattr(getattr(stream, "_read", None), "__self__", stream)
    for attribute in ("raw", "_sock"):
        if isinstance(stream, socket.socket):
            break
        stream = getattr(stream, attribute, None)
    return stream if isinstance(stream, socket.socket) else None


def endpoint(*, methods: tuple[str, ...], auth: bool | Callable[[HttpRequest], bool] = True):
    """Wrap a simulator API view: log, inject faults, check method and key, map ApiError."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # Before anything touches request.POST: big files go to temp files in chunks, and
            # a file over the limit is counted, not stored.
            request.upload_handlers = [TemporaryFileUploadHandler(request)]
            request.upload_limiter = limit_uploads(  # type: ignore[attr-defined]
                request, limit=MAX_FILE_BYTES
            )
            path = logical_path(request)
            key = bearer_key(request)
            valid = key is not None and key in accepted_keys()
            call = SimCall(
                method=request.method or "",
                path=path,
                authorized=valid,
                has_auth_header="Authorization" in request.headers,
                at=timezone.now(),
            )
            # A GET (the status polls: thousands a minute) is logged once, with its answer; other
            # calls, which may be slow (uploads, a worker killed mid-create), are logged on
            # arrival too, so a test sees them while they run.
            if request.method != "GET":
                fastpath.calls.flush()  # buffered GETs first: ids keep the order of arrival
                call.save()
            faults = _pick_faults(request, path, key)
            for fault in faults:
                if fault.kind == SimFault.Kind.LATENCY:
                    time.sleep(fault.latency_ms / 1000)
            failure = next((f for f in faults if f.kind != SimFault.Kind.LATENCY), None)
            if failure is not None and failure.kind in ("500", "502", "503", "429"):
                response = _fault_response(failure)
            else:
                response = _dispatch(view, request, methods, auth, key, valid, args, kwargs)
                if failure is not None:
                    response = _corrupt(request, response, failure.kind)
            call.status = response.status_code
            call.fault = failure.kind if failure else ""
            if call.pk is None:
                fastpath.calls.add(call)  # written with others within 0.5 s (fastpath.py)
            else:
                SimCall.objects.filter(pk=call.pk).update(status=call.status, fault=call.fault)
            return response

        return wrapper

    return decorate


def _dispatch(
    view: Callable[..., HttpResponse],
    request: HttpRequest,
    methods: tuple[str, ...],
    auth: bool | Callable[[HttpRequest], bool],
    key: str | None,
    valid: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> HttpResponse:
    needs_auth = auth(request) if callable(auth) else auth
    if needs_auth and not valid:
        if key is None:
            if engine.get_state().error_style == "legacy":
                return error_response(401, "CS-UORC01-006", "API key required")
            return JsonResponse(
                {"detail": "API key required. Use Authorization: Bearer sk-xxx"}, status=401
            )
        return error_response(401, "CS-UORC01-007", "Invalid or expired API key")
    if request.method not in methods:
        response = JsonResponse({"detail": "Method Not Allowed"}, status=405)
        response["Allow"] = ", ".join(methods)
        return response
    try:
        return view(request, *args, **kwargs)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)


# --- inputs ------------------------------------------------------------------------------------


def _field(request: HttpRequest, name: str) -> str | None:
    value = request.POST.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _bool(request: HttpRequest, name: str) -> bool:
    value = _field(request, name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise bad("CS-UORC01-002", f"{name} must be true or false")


def _fetch(url: str, what: str) -> IO[bytes]:
    """Download a URL input to a temp file (loopback allowed: this is a dev tool)."""
    if not url.startswith(("http://", "https://")):
        raise bad("CS-UORC01-002", f"{what} must be an http(s) URL")
    out = tempfile.TemporaryFile()
    size = 0
    try:
        with httpx.stream("GET", url, timeout=30.0, follow_redirects=True) as response:
            if response.status_code != 200:
                raise bad("CS-UORC01-002", f"Could not fetch {what}: HTTP {response.status_code}")
            for chunk in response.iter_bytes(1024 * 1024):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise bad("CS-ORIV-005", "File larger than 500 MB")
                out.write(chunk)
    except httpx.HTTPError as exc:
        out.close()
        raise bad("CS-UORC01-002", f"Could not fetch {what}: {type(exc).__name__}")
    except ApiError:
        out.close()
        raise
    out.seek(0)
    return out


def _sent(request: HttpRequest, file_field: str) -> bool:
    """Whether a file came in ``file_field``, kept or dropped at the size limit."""
    too_big = request.upload_limiter.too_big_fields  # type: ignore[attr-defined]
    return file_field in request.FILES or file_field in too_big


def _refuse_too_large(request: HttpRequest, file_field: str) -> None:
    """An upload dropped at the size limit (viggle_web/core/uploads.py) is refused as Viggle
    refuses it."""
    if file_field in request.upload_limiter.too_big_fields:  # type: ignore[attr-defined]
        raise bad("CS-ORIV-005", "File larger than 500 MB")


def _file_input(request: HttpRequest, file_field: str, url_field: str) -> IO[bytes] | None:
    """The one file of a pair of fields (an upload or a URL to fetch), as Viggle reads it."""
    _refuse_too_large(request, file_field)
    upload = request.FILES.get(file_field)
    url = _field(request, url_field)
    if upload is not None and url:
        raise bad("CS-UORC01-002", f"Send {file_field} or {url_field}, not both")
    if upload is None and not url:
        return None
    return upload if upload is not None else _fetch(url or "", url_field)


def _image_input(request: HttpRequest, file_field: str, url_field: str) -> IO[bytes] | None:
    fileobj = _file_input(request, file_field, url_field)
    if fileobj is None:
        return None
    try:
        media.check_image(fileobj)
    except media.MediaError as exc:
        raise bad(exc.code, exc.message)
    return fileobj


def _video_input(
    request: HttpRequest, file_field: str, url_field: str
) -> tuple[IO[bytes], media.VideoInfo] | None:
    fileobj = _file_input(request, file_field, url_field)
    if fileobj is None:
        return None
    try:
        info = media.probe_video(fileobj)
    except media.MediaError as exc:
        raise bad(exc.code, exc.message)
    if info.duration > MAX_VIDEO_SECONDS:
        raise bad("CS-ORIV-004", "Video longer than 5 minutes")
    if info.width > MAX_SIDE or info.height > MAX_SIDE:
        raise bad("CS-ORIV-006", "Resolution above 4096x4096")
    return fileobj, info


def _live_scene(scene_id: str) -> SimScene:
    scene = SimScene.objects.filter(pk=scene_id, deleted=False).first()
    if scene is None:
        raise bad("CS-ORIV-009", "Scene not found")
    return scene


def _live_character(character_id: str) -> SimCharacter:
    character = SimCharacter.objects.filter(pk=character_id, deleted=False).first()
    if character is None:
        raise bad("CS-ORIV-008", "Character not found")
    return character


# --- renders -----------------------------------------------------------------------------------


@endpoint(methods=("POST",))
def render_create(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    has_ref = _sent(request, "ref_image") or _field(request, "ref_image_url") is not None
    has_drv = _sent(request, "driving_video") or _field(request, "driving_video_url") is not None
    character_id = _field(request, "character_id")
    scene_id = _field(request, "scene_id")
    mapping_raw = _field(request, "character_mapping") or _field(request, "characters")

    if mapping_raw is not None:
        if has_ref or has_drv or character_id:
            raise bad("CS-UORC01-002", "Give exactly one input combination")
        if not scene_id:
            raise bad("CS-ORIV-002", "scene_id required with character_mapping")
    elif character_id or scene_id:
        if has_ref or has_drv:
            raise bad("CS-UORC01-002", "Give exactly one input combination")
        if not character_id:
            raise bad("CS-ORIV-001", "Reference image (or character_id) required")
        if not scene_id:
            raise bad("CS-ORIV-002", "Driving video (or scene_id) required")
    else:
        if not has_ref:
            raise bad("CS-ORIV-001", "Reference image required")
        if not has_drv:
            raise bad("CS-ORIV-002", "Driving video (or scene_id) required")

    model = _field(request, "model")
    if model is not None and model not in MODELS:
        raise bad("CS-UORC01-002", f"model must be one of {', '.join(MODELS)}")
    mode_in = _field(request, "background_mode") or "original"
    if mode_in not in BACKGROUND_MODES:
        raise bad("CS-ORIV-011", "Invalid background mode")
    background_mode = BACKGROUND_MODES[mode_in]
    try:
        bg_color = parse_bg_color(_field(request, "bg_color"))
    except ValueError as exc:
        raise bad("CS-UORC01-002", str(exc))
    fast = _bool(request, "fast")
    if fast and not (_sent(request, "driving_video") or scene_id):
        raise bad("CS-UORC01-002", "fast needs a driving_video upload or a scene_id")

    mapping: dict[str, str] = {}
    if mapping_raw is not None:
        try:
            mapping = json.loads(mapping_raw)
        except ValueError:
            raise bad("CS-ORIV-012", "Invalid character_mapping JSON")
        if (
            not isinstance(mapping, dict)
            or not mapping
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
        ):
            raise bad("CS-ORIV-012", "character_mapping must map segment ids to character ids")

    scene: SimScene | None = None
    ref: IO[bytes] | None = None
    drv: tuple[IO[bytes], media.VideoInfo] | None = None
    if scene_id:
        scene = _live_scene(scene_id)
        if engine.scene_status(scene, now) != "ready":
            raise bad("CS-ORIV-010", "Scene preprocessing not complete")
        if model is not None and model != scene.model:
            raise bad("CS-UORC01-002", f"The scene was preprocessed for {scene.model}")
        model = scene.model
        wanted = [character_id] if character_id else sorted(set(mapping.values()))
        for cid in wanted:
            character = _live_character(cid or "")
            if engine.character_status(character, now) != "ready":
                raise bad("CS-UORC01-002", "Character preprocessing not complete")
        if mapping and scene.segments:
            known = {segment["uuid"] for segment in scene.segments}
            unknown = sorted(set(mapping) - known)
            if unknown:
                raise bad("CS-ORIV-012", f"Unknown segment ids: {', '.join(unknown)}")
        output_seconds = scene.duration_seconds
    else:
        ref = _image_input(request, "ref_image", "ref_image_url")
        drv = _video_input(request, "driving_video", "driving_video_url")
        if ref is None:
            raise bad("CS-ORIV-001", "Reference image required")
        if drv is None:
            raise bad("CS-ORIV-002", "Driving video (or scene_id) required")
        output_seconds = drv[1].duration

    state = engine.get_state()
    if fast and state.fast_capacity is not None:
        running = SimJob.objects.filter(
            fast=True, state__in=(SimJob.State.ACTIVE, SimJob.State.RENDERING)
        ).count()
        if running >= state.fast_capacity:
            raise bad("CS-UORC01-001", "Fast mode has no capacity now")

    job_id = engine.new_id("job_")
    ref_name = drv_name = ""
    if ref is not None and drv is not None:
        ref_name = engine.save_input(f"{job_id}/ref_image", ref)
        drv_name = engine.save_input(f"{job_id}/driving_video.mp4", drv[0])
    preprocessed = scene is not None
    cost = engine.render_cost(output_seconds, fast=fast)
    seconds = engine.render_seconds(output_seconds, preprocessed=preprocessed, fast=fast)
    with transaction.atomic():
        if not engine.charge(cost):
            raise ApiError(402, "CS-UORC01-008", "Insufficient credits")
        job = SimJob.objects.create(
            job_id=job_id,
            mode="fast" if fast else ("preprocessed" if preprocessed else "full_pipeline"),
            fast=fast,
            model=model or "V4_Preview",
            background_mode=background_mode,
            bg_color=bg_color,
            ref_image=ref_name,
            driving_video=drv_name,
            character_id=character_id or "",
            scene_id=scene_id or "",
            character_mapping=mapping,
            output_seconds=output_seconds,
            credits=cost,
            will_fail=engine.take_fail_flag(),
            created_at=now,
            started_at=now,
            finish_at=engine.after(seconds),
        )
    status_url = f"/api/render/{job.job_id}"
    return JsonResponse(
        {
            "job_id": job.job_id,
            "status": "queued",
            "mode": job.mode,
            "enqueued_at": engine.iso(now),
            "poll_url": status_url,
            "status_url": status_url,
        }
    )


@endpoint(methods=("GET", "DELETE"), auth=lambda request: request.method != "GET")
def render_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = SimJob.objects.filter(pk=job_id).first()
    if job is None:
        return JsonResponse({"detail": "Job not found"}, status=404)
    if request.method == "DELETE":
        if not engine.cancel(job):
            job = engine.settle(job, timezone.now())
            raise bad("CS-UORC01-002", f"Job cannot be cancelled: it is {job.state}")
        return JsonResponse(
            {
                "job_id": job.job_id,
                "status": "cancelled",
                "success": True,
                "credits_refunded": job.credits,
            }
        )
    now = timezone.now()
    job = engine.settle(job, now)
    return JsonResponse(engine.job_payload(job, request, now))


# --- characters --------------------------------------------------------------------------------


def _page(request: HttpRequest) -> tuple[int, int]:
    try:
        limit = int(request.GET.get("limit", "50"))
        offset = int(request.GET.get("offset", "0"))
    except ValueError:
        raise bad("CS-UORC01-002", "limit and offset must be integers")
    if not 1 <= limit <= 100 or offset < 0:
        raise bad("CS-UORC01-002", "limit must be 1-100 and offset >= 0")
    return limit, offset


@endpoint(methods=("POST",))
def character_preprocess(request: HttpRequest) -> HttpResponse:
    name = _field(request, "name")
    if not name:
        raise bad("CS-UORC01-002", "name is required")
    image = _image_input(request, "image", "image_url")
    if image is None:
        raise bad("CS-ORIV-001", "Reference image required")
    ident = engine.new_id()
    job_id = f"char_{ident.replace('-', '')[:12]}"
    image.seek(0)
    stored = default_storage.save(
        f"{engine.PUBLIC_PREFIX}characters/{ident}-{uuid.uuid4().hex[:8]}.img",
        File(image, name="image"),
    )
    now = timezone.now()
    with transaction.atomic():
        if not engine.charge(1):
            raise ApiError(402, "CS-UORC01-008", "Insufficient credits")
        SimCharacter.objects.create(
            id=ident,
            job_id=job_id,
            name=name[:200],
            image=stored,
            credits_used=1,
            created_at=now,
            ready_at=engine.after(engine.CHARACTER_SECONDS),
        )
    return JsonResponse(
        {
            "character_id": ident,
            "job_id": job_id,
            "status": "pending",
            "enqueued_at": engine.iso(now),
        }
    )


@dataclass(frozen=True)
class _Listed:
    """Characters or scenes as Viggle lists, shows and deletes them (marked deleted)."""

    model: type[Any]
    key: str
    payload: Callable[[Any, HttpRequest, datetime], dict]
    missing_code: str
    missing: str

    def list(self, request: HttpRequest) -> JsonResponse:
        limit, offset = _page(request)
        now = timezone.now()
        rows = self.model.objects.filter(deleted=False)
        items = [self.payload(row, request, now) for row in rows[offset : offset + limit]]
        return JsonResponse({self.key: items, "total": rows.count()})

    def detail(self, request: HttpRequest, **ids: str) -> JsonResponse:
        (pk,) = ids.values()  # the route's one id: character_id or scene_id
        row = self.model.objects.filter(pk=pk, deleted=False).first()
        if row is None:
            raise ApiError(404, self.missing_code, self.missing)
        if request.method == "DELETE":
            self.model.objects.filter(pk=row.pk).update(deleted=True)
            return JsonResponse({"success": True})
        return JsonResponse(self.payload(row, request, timezone.now()))


CHARACTERS = _Listed(
    SimCharacter, "characters", engine.character_payload, "CS-ORIV-008", "Character not found"
)
SCENES = _Listed(
    SimScene,
    "scenes",
    lambda scene, request, now: engine.scene_payload(scene, now),
    "CS-ORIV-009",
    "Scene not found",
)


character_list = endpoint(methods=("GET",))(CHARACTERS.list)
character_detail = endpoint(methods=("GET", "DELETE"))(CHARACTERS.detail)


# --- scenes ------------------------------------------------------------------------------------


@endpoint(methods=("POST",))
def scene_preprocess(request: HttpRequest) -> HttpResponse:
    name = _field(request, "name")
    if not name:
        raise bad("CS-UORC01-002", "name is required")
    mode_in = _field(request, "background_mode") or "original"
    if mode_in not in BACKGROUND_MODES:
        raise bad("CS-ORIV-011", "Invalid background mode")
    model = _field(request, "model") or "V4_Preview"
    if model not in MODELS:
        raise bad("CS-UORC01-002", f"model must be one of {', '.join(MODELS)}")
    video = _video_input(request, "video", "video_url")
    if video is None:
        raise bad("CS-ORIV-002", "Driving video required")
    fileobj, info = video
    if info.duration < 0.5 or info.width < 64 or info.height < 64:
        raise bad("CS-UORC01-002", "A scene needs at least 0.5 s and 64x64")
    ident = engine.new_id()
    stored = engine.save_input(f"scenes/{ident}.mp4", fileobj)
    now = timezone.now()
    scene = _scene_create(
        ident,
        info,
        name=name[:200],
        video=stored,
        model=model,
        background_mode=BACKGROUND_MODES[mode_in],
        created_at=now,
        ready_at=engine.after(engine.SCENE_BASE_SECONDS + info.duration),
    )
    return JsonResponse(
        {
            "scene_id": ident,
            "job_id": scene.job_id,
            "status": "pending",
            "enqueued_at": engine.iso(now),
        }
    )


def _scene_create(ident: str, clip: media.VideoInfo, **fields: Any) -> SimScene:
    """A scene's row: its job id made from its id, its clip's measures from ``clip``."""
    return SimScene.objects.create(
        id=ident,
        job_id=f"scene_{ident.replace('-', '')[:12]}",
        duration_seconds=clip.duration,
        fps=clip.fps,
        total_frames=clip.frames,
        width=clip.width,
        height=clip.height,
        **fields,
    )


@endpoint(methods=("POST",))
def scene_import(request: HttpRequest) -> HttpResponse:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise bad("CS-UORC01-002", "Body must be JSON")
    if not isinstance(body, dict):
        raise bad("CS-UORC01-002", "Body must be a JSON object")
    template_id = str(body.get("template_id") or "").strip()
    name = str(body.get("name") or "").strip()
    try:
        uuid.UUID(template_id)
    except ValueError:
        raise bad("CS-UORC01-002", "template_id must be a template UUID")
    if not name:
        raise bad("CS-UORC01-002", "name is required")
    people = max(0, engine.get_state().template_people)
    segments = [
        {
            "uuid": f"person_{uuid.uuid5(uuid.NAMESPACE_URL, f'{template_id}/{i}').hex[:8]}",
            "type": "human",
        }
        for i in range(people)
    ]
    ident = engine.new_id()
    now = timezone.now()
    with transaction.atomic():
        if not engine.charge(engine.TEMPLATE_CREDITS):
            raise ApiError(402, "CS-UORC01-008", "Insufficient credits")
        _scene_create(
            ident,
            engine.TEMPLATE_CLIP,
            name=name[:200],
            template_id=template_id,
            segments=segments,
            credits_reserved=engine.TEMPLATE_CREDITS,
            fail_message=engine.TEMPLATE_FAIL_MESSAGE if engine.take_import_fail_flag() else "",
            created_at=now,
            ready_at=engine.after(engine.TEMPLATE_SECONDS),
        )
    return JsonResponse(
        {
            "id": ident,
            "status": "pending",
            "credits_reserved": engine.TEMPLATE_CREDITS,
            "segments": segments,
        }
    )


scene_list = endpoint(methods=("GET",))(SCENES.list)
scene_detail = endpoint(methods=("GET", "DELETE"))(SCENES.detail)


# --- account and CDN ---------------------------------------------------------------------------


@endpoint(methods=("GET",))
def credits(request: HttpRequest) -> HttpResponse:
    state = engine.get_state()
    purchased = Decimal(settings.VIGGLE_SIMULATOR_CREDITS)
    return JsonResponse(
        {
            "balance": float(state.credits),
            "total_purchased": float(purchased),
            "total_used": float(max(Decimal(0), purchased - state.credits)),
            "updated_at": engine.iso(state.updated_at),
        }
    )


@endpoint(methods=("GET", "HEAD"), auth=False)
def cdn_file(request: HttpRequest, name: str) -> HttpResponse:
    if ".." in name.split("/") or name.startswith("/"):
        raise Http404
    full = f"{engine.PUBLIC_PREFIX}{name}"
    if not default_storage.exists(full):
        return JsonResponse({"detail": "Not Found"}, status=404)
    content_type = "video/mp4" if name.endswith(".mp4") else "application/octet-stream"
    return FileResponse(default_storage.open(full, "rb"), content_type=content_type)


# --- the test control endpoint -----------------------------------------------------------------


def _state_payload() -> dict[str, Any]:
    state = engine.get_state()
    return {
        "credits": float(state.credits),
        "speed": engine.speed(),
        "fast_capacity": state.fast_capacity,
        "fail_next_jobs": state.fail_next_jobs,
        "fail_next_imports": state.fail_next_imports,
        "template_people": state.template_people,
        "error_style": state.error_style,
    }


def _sha256(name: str) -> str:
    if not name:
        return ""
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _job_inputs(job: SimJob) -> dict[str, Any]:
    """What a render create call sent: the uploads as digests, or the preprocessed ids."""
    return {
        "job_id": job.job_id,
        "ref_image_sha256": _sha256(job.ref_image),
        "driving_video_sha256": _sha256(job.driving_video),
        "character_id": job.character_id,
        "scene_id": job.scene_id,
        "character_mapping": job.character_mapping,
        "model": job.model,
        "background_mode": job.background_mode,
        "bg_color": job.bg_color,
        "fast": job.fast,
        "state": job.state,
        # Its output, made ahead of its end (engine.render_ahead), public once it is complete.
        "prepared_output": job.prepared_output,
    }


@csrf_exempt
@login_not_required
def control(request: HttpRequest) -> HttpResponse:
    """Test knobs. GET: state, faults and the calls log (?since=<call id>); with ?jobs=1 also
    every render job's inputs (upload digests or preprocessed ids), to tell what was sent.

    POST JSON {"action": ...}:
      reset                       forget everything, credits/speed back to settings
      set  {speed?, credits?, fast_capacity?, fail_next_jobs?, fail_next_imports?,
                                   template_people?, error_style?, keys?}
      fault {kind, count?, rate?, key?, path_prefix?, method?, retry_after?, latency_ms?}
      clear_faults | clear_calls
    """
    if not settings.VIGGLE_SIMULATOR_ENABLED:
        raise Http404
    if request.method == "GET":
        fastpath.calls.flush()
        try:
            since = int(request.GET.get("since", "0"))
        except ValueError:
            since = 0
        calls = [
            {
                "id": c.id,
                "method": c.method,
                "path": c.path,
                "status": c.status,
                "authorized": c.authorized,
                "has_auth_header": c.has_auth_header,
                "fault": c.fault,
                "at": engine.iso(c.at),  # arrival
            }
            for c in SimCall.objects.filter(id__gt=since).order_by("id")[:2000]
        ]
        faults = list(
            SimFault.objects.order_by("id").values(
                "id", "kind", "remaining", "rate", "path_prefix", "method", "retry_after"
            )
        )
        payload = {"state": _state_payload(), "faults": faults, "calls": calls}
        if request.GET.get("jobs"):
            payload["jobs"] = [_job_inputs(job) for job in SimJob.objects.order_by("created_at")]
        return JsonResponse(payload)
    if request.method != "POST":
        return JsonResponse({"detail": "Method Not Allowed"}, status=405)
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return JsonResponse({"detail": "Body must be a JSON object"}, status=400)
    action = body.get("action")
    fastpath.faults.forget()
    if action in ("reset", "clear_calls"):
        fastpath.calls.discard()
    try:
        if action == "reset":
            _reset()
        elif action == "set":
            _set(body)
        elif action == "fault":
            fault = _add_fault(body)
            return JsonResponse({"ok": True, "fault_id": fault.pk, "state": _state_payload()})
        elif action == "clear_faults":
            SimFault.objects.all().delete()
        elif action == "clear_calls":
            SimCall.objects.all().delete()
        else:
            return JsonResponse({"detail": f"Unknown action {action!r}"}, status=400)
    except (TypeError, ValueError) as exc:
        return JsonResponse({"detail": f"Bad value: {exc}"}, status=400)
    return JsonResponse({"ok": True, "state": _state_payload()})


# Keys the control endpoint set for this simulator process (tests), instead of
# settings.VIGGLE_SIMULATOR_KEYS; a reset forgets them. The simulator is one process.
_keys_override: list[str] | None = None


def accepted_keys() -> list[str]:
    return _keys_override if _keys_override is not None else list(settings.VIGGLE_SIMULATOR_KEYS)


def _reset() -> None:
    global _keys_override
    _keys_override = None
    with transaction.atomic():
        for model in (SimCall, SimFault, SimJob, SimCharacter, SimScene):
            model.objects.all().delete()
        state = engine.get_state()
        state.credits = Decimal(settings.VIGGLE_SIMULATOR_CREDITS)
        state.speed = None
        state.fast_capacity = None
        state.fail_next_jobs = 0
        state.fail_next_imports = 0
        state.template_people = 2
        state.error_style = "detail"
        state.save()


def _set(body: dict[str, Any]) -> None:
    global _keys_override
    if "keys" in body:
        keys = body["keys"]
        if keys is not None and (
            not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys)
        ):
            raise ValueError("keys must be a list of API keys, or null for the settings' keys")
        _keys_override = None if keys is None else list(keys)
    state = engine.get_state()
    if "speed" in body:
        state.speed = None if body["speed"] is None else float(body["speed"])
        if state.speed is not None and state.speed <= 0:
            raise ValueError("speed must be > 0")
    if "credits" in body:
        state.credits = Decimal(str(body["credits"]))
    if "fast_capacity" in body:
        capacity = body["fast_capacity"]
        state.fast_capacity = None if capacity is None else int(capacity)
    if "fail_next_jobs" in body:
        state.fail_next_jobs = int(body["fail_next_jobs"])
    if "fail_next_imports" in body:
        state.fail_next_imports = int(body["fail_next_imports"])
    if "template_people" in body:
        state.template_people = int(body["template_people"])
    if "error_style" in body:
        if body["error_style"] not in ("detail", "legacy"):
            raise ValueError("error_style must be detail or legacy")
        state.error_style = body["error_style"]
    state.save()


def _add_fault(body: dict[str, Any]) -> SimFault:
    kind = str(body.get("kind", ""))
    if kind not in SimFault.Kind.values:
        raise ValueError(f"kind must be one of {', '.join(SimFault.Kind.values)}")
    count = body.get("count")
    return SimFault.objects.create(
        kind=kind,
        remaining=None if count is None else int(count),
        rate=float(body.get("rate", 1.0)),
        api_key=str(body.get("key") or ""),
        path_prefix=str(body.get("path_prefix") or ""),
        method=str(body.get("method") or "").upper(),
        retry_after=None if body.get("retry_after") is None else float(body["retry_after"]),
        latency_ms=int(body.get("latency_ms") or 0),
    )
