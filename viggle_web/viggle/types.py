"""Typed views of Viggle's responses. Unknown fields are tolerated; the raw dict stays in `raw`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

# Status values as the client reports them. Anything else upstream says (old `rendering`,
# `merging`, or a value added later) is reported as `processing`: still in progress.
QUEUED = "queued"
PROCESSING = "processing"
COMPLETE = "complete"
FAILED = "failed"
CANCELLED = "cancelled"
FINAL_STATUSES = frozenset({COMPLETE, FAILED, CANCELLED})
_KNOWN_RENDER_STATUSES = frozenset({QUEUED, PROCESSING, COMPLETE, FAILED, CANCELLED})


def normalise_render_status(value: Any) -> str:
    status = str(value or "").strip().lower()
    if status in ("completed", "succeeded", "success", "done"):
        return COMPLETE
    if status in ("canceled",):
        return CANCELLED
    if status in _KNOWN_RENDER_STATUSES:
        return status
    return PROCESSING


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Upload:
    """A file to stream to Viggle. `fileobj` is read in chunks, never whole."""

    filename: str
    fileobj: BinaryIO
    content_type: str

    def __repr__(self) -> str:
        return f"Upload(filename={self.filename!r}, content_type={self.content_type!r})"


@dataclass(frozen=True)
class RenderCreated:
    job_id: str
    status: str
    mode: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderCreated:
        job_id = _str(data.get("job_id")) or _str(data.get("id"))
        if not job_id:
            raise ValueError("render response has no job_id")
        return cls(
            job_id=job_id,
            status=normalise_render_status(data.get("status") or QUEUED),
            mode=_str(data.get("mode")),
            raw=data,
        )


@dataclass(frozen=True)
class RenderStatus:
    job_id: str
    status: str
    mode: str | None
    progress_pct: int
    checkpoint: str | None
    cdn_url: str | None
    mask_cdn_url: str | None
    error: str | None
    error_code: str | None
    error_message: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], job_id: str = "") -> RenderStatus:
        from viggle_web.viggle.errors import normalise_code

        status = normalise_render_status(data.get("status"))
        progress = data.get("progress_pct")
        if progress is None and isinstance(data.get("progress"), dict):
            progress = data["progress"].get("percent")
        pct = max(0, min(100, _int(progress)))
        if status == COMPLETE:
            pct = 100
        return cls(
            job_id=_str(data.get("job_id")) or job_id,
            status=status,
            mode=_str(data.get("mode")),
            progress_pct=pct,
            checkpoint=_str(data.get("checkpoint")),
            cdn_url=_str(data.get("cdn_url")) or _str(data.get("download_url")),
            mask_cdn_url=_str(data.get("mask_cdn_url")),
            error=_str(data.get("error")),
            error_code=normalise_code(_str(data.get("error_code"))),
            error_message=_str(data.get("error_message")),
            raw=data,
        )

    @property
    def is_complete(self) -> bool:
        return self.status == COMPLETE

    @property
    def is_failed(self) -> bool:
        return self.status == FAILED

    @property
    def is_cancelled(self) -> bool:
        return self.status == CANCELLED

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Preprocessed:
    """The answer to a character or scene preprocess: `id` is character_id or scene_id."""

    id: str
    job_id: str | None
    status: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], id_key: str) -> Preprocessed:
        ident = _str(data.get(id_key)) or _str(data.get("id"))
        if not ident:
            raise ValueError(f"preprocess response has no {id_key}")
        return cls(
            id=ident,
            job_id=_str(data.get("job_id")),
            status=_str(data.get("status")) or "pending",
            raw=data,
        )


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Something Viggle prepares from an upload (a character, a scene): pending, then ready or
    failed."""

    id: str
    name: str
    status: str
    error_message: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def is_ready(self) -> bool:
        return self.status == "ready"

    @property
    def is_failed(self) -> bool:
        return self.status == "failed"


def _prepared_fields(data: dict[str, Any], id_key: str) -> dict[str, Any]:
    """The fields every prepared object's JSON has (``id`` or ``<kind>_id``)."""
    return {
        "id": _str(data.get("id")) or _str(data.get(id_key)) or "",
        "name": _str(data.get("name")) or "",
        "status": _str(data.get("status")) or "pending",
        "error_message": _str(data.get("error_message")) or _str(data.get("error")),
        "raw": data,
    }


@dataclass(frozen=True, kw_only=True)
class Character(Prepared):
    thumbnail_url: str | None
    credits_used: float | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Character:
        return cls(
            **_prepared_fields(data, "character_id"),
            thumbnail_url=_str(data.get("thumbnail_url")),
            credits_used=_float(data.get("credits_used")),
        )


@dataclass(frozen=True, kw_only=True)
class Scene(Prepared):
    duration_seconds: float | None
    fps: float | None
    total_frames: int | None
    width: int | None
    height: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scene:
        def opt_int(key: str) -> int | None:
            value = data.get(key)
            return None if value is None else _int(value)

        return cls(
            **_prepared_fields(data, "scene_id"),
            duration_seconds=_float(data.get("duration_seconds")),
            fps=_float(data.get("fps")),
            total_frames=opt_int("total_frames"),
            width=opt_int("width"),
            height=opt_int("height"),
        )


@dataclass(frozen=True)
class Segment:
    uuid: str
    type: str


@dataclass(frozen=True)
class TemplateImport:
    id: str
    status: str
    credits_reserved: float | None
    segments: list[Segment]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TemplateImport:
        segments = [
            Segment(uuid=str(item.get("uuid")), type=str(item.get("type") or "human"))
            for item in data.get("segments") or []
            if isinstance(item, dict) and item.get("uuid")
        ]
        ident = _str(data.get("id")) or _str(data.get("scene_id"))
        if not ident:
            raise ValueError("template import response has no id")
        return cls(
            id=ident,
            status=_str(data.get("status")) or "pending",
            credits_reserved=_float(data.get("credits_reserved")),
            segments=segments,
            raw=data,
        )


@dataclass(frozen=True)
class Credits:
    balance: float
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credits:
        balance = _float(data.get("balance"))
        if balance is None:
            raise ValueError("credits response has no balance")
        return cls(balance=balance, raw=data)
