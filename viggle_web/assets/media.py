"""Deciding what an uploaded file really is, by its content, and cutting its preview.

Nothing here trusts the file name or the browser's content type: the first bytes say which
family a file claims to be, then Pillow (images) or PyAV (videos) must actually read it. Videos
are read from a path or a file object in streaming fashion; nothing loads a whole video in memory.
Viggle's limits (docs/viggle-api.md) are applied here, before anything is stored.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import IO

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from viggle_web.core.messages import public_message

MIN_SIDE = 64
MAX_SIDE = 4096
MIN_SECONDS = 0.5
MAX_SECONDS = 5 * 60
PREVIEW_SIDE = 480
# A decoder is never asked to expand more pixels than this (4096 x 4096 is the largest allowed).
MAX_PIXELS = MAX_SIDE * MAX_SIDE

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
# ISO-BMFF top-level boxes that may open an MP4/MOV file (old QuickTime files lack "ftyp").
_MOV_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")

# Viggle's error codes for a refused input (docs: shared/docs/viggle-api.md, "Error codes"), so
# the API for scripts answers with the code Viggle would give. The limits below Viggle's minimum
# (0.5 s, 64x64) have no code of their own: Viggle answers "request failed validation".
VALIDATION = "CS-UORC01-002"
VIDEO_FORMAT = "CS-ORIV-003"
VIDEO_TOO_LONG = "CS-ORIV-004"
FILE_TOO_LARGE = "CS-ORIV-005"
TOO_MANY_PIXELS = "CS-ORIV-006"
VIDEO_UNREADABLE = "CS-ORIV-007"


class MediaRejected(Exception):
    """The file is not something Viggle (or we) accept. ``reason`` is a sentence for members;
    ``code`` is Viggle's error code for it."""

    def __init__(self, reason: str, code: str = VALIDATION) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Probe:
    kind: str  # "image" or "video", as Asset.Kind
    content_type: str
    width: int
    height: int
    duration_seconds: float | None = None
    fps: float | None = None

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


Source = str | IO[bytes]


def sniff(head: bytes) -> str | None:
    """The content family the first bytes claim: "image", "video" or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff"):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[4:8] in _MOV_BOXES:
        return "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video"
    return None


def _check_size(width: int, height: int, what: str) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise MediaRejected(
            f"the {what} is {width}x{height} pixels; the smallest Viggle accepts is "
            f"{MIN_SIDE}x{MIN_SIDE}"
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise MediaRejected(
            f"the {what} is {width}x{height} pixels; the largest Viggle accepts is "
            f"{MAX_SIDE}x{MAX_SIDE}",
            TOO_MANY_PIXELS,
        )


def _rewind(source: Source) -> None:
    if not isinstance(source, str):
        source.seek(0)


def probe_image(source: Source) -> Probe:
    """Verify a PNG/JPEG/WebP completely (every pixel decoded, so truncation shows)."""
    _rewind(source)
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(source) as image:
                if image.format not in IMAGE_TYPES:
                    raise MediaRejected(
                        f"it is a {image.format or 'unknown'} image; use PNG, JPG or WebP"
                    )
                width, height = image.size
                if width * height > MAX_PIXELS * 4:
                    raise MediaRejected(
                        f"it claims {width}x{height} pixels, which looks like a decompression bomb"
                    )
                _check_size(width, height, "image")
                content_type = IMAGE_TYPES[image.format]
                image.load()  # decodes everything: a truncated file fails here
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaRejected("it has far too many pixels (a decompression bomb)")
        except MediaRejected:
            raise
        except UnidentifiedImageError:
            raise MediaRejected("it is not a readable PNG, JPG or WebP image")
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise MediaRejected(f"the image is damaged or truncated ({_short(exc)})")
    return Probe(kind="image", content_type=content_type, width=width, height=height)


def _video_content_type(container: av.container.InputContainer, head: bytes) -> str:
    names = set(container.format.name.split(","))
    if "mov" in names or "mp4" in names:
        brand = head[8:12] if head[4:8] == b"ftyp" else b"qt  "
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if "webm" in names and b"webm" in head[:64]:
        return "video/webm"
    raise MediaRejected("it is not an MP4, MOV or WebM video", VIDEO_FORMAT)


def probe_video(source: Source, head: bytes) -> Probe:
    """Open with PyAV, read every packet (streamed, not decoded) to learn the real length, and
    decode the first frame, so truncated or disguised files fail here."""
    _rewind(source)
    try:
        container = av.open(source, mode="r")
    except av.error.FFmpegError as exc:
        # The first bytes said MP4/MOV/WebM (probe() sniffed them), yet it does not open: a
        # damaged or cut-off file, which Viggle calls unreadable, not an unsupported format.
        raise MediaRejected(
            f"it is not a readable MP4, MOV or WebM video ({_short(exc)})", VIDEO_UNREADABLE
        )
    try:
        content_type = _video_content_type(container, head)
        if not container.streams.video:
            raise MediaRejected("it has no video track", VIDEO_FORMAT)
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise MediaRejected("its video track has no picture size", VIDEO_UNREADABLE)
        _check_size(width, height, "video")
        declared = container.duration / av.time_base if container.duration else None
        if declared is not None and declared > MAX_SECONDS:
            raise MediaRejected(
                f"it is {_long(declared)} long; Viggle accepts at most {_mmss(MAX_SECONDS)}",
                VIDEO_TOO_LONG,
            )
        end, frames = _demux_end(container, stream)
        decoded_any = _decodes(source)
        if not decoded_any or frames == 0:
            raise MediaRejected(
                "no picture could be decoded from it (damaged or truncated)", VIDEO_UNREADABLE
            )
        known = [value for value in (declared, end) if value is not None]
        duration = max(known) if known else None
        if declared is not None and end is not None and end < declared * 0.9 - 0.25:
            raise MediaRejected(
                f"it stops at {end:.1f} s although it says it lasts {declared:.1f} s (truncated)",
                VIDEO_UNREADABLE,
            )
        if duration is None:
            raise MediaRejected("its length cannot be read", VIDEO_UNREADABLE)
        # Viggle's limit is exact: 5:00 is accepted, 5:00.25 is not.
        if duration > MAX_SECONDS:
            raise MediaRejected(
                f"it is {_long(duration)} long; Viggle accepts at most {_mmss(MAX_SECONDS)}",
                VIDEO_TOO_LONG,
            )
        if duration < MIN_SECONDS:
            raise MediaRejected(f"it lasts {duration:.2f} s; Viggle needs at least {MIN_SECONDS} s")
        rate = stream.average_rate or stream.guessed_rate
        fps = round(float(rate), 3) if rate else (round(frames / duration, 3) or None)
    except MediaRejected:
        raise
    except (av.error.FFmpegError, ValueError, ZeroDivisionError) as exc:
        raise MediaRejected(f"the video is damaged or truncated ({_short(exc)})", VIDEO_UNREADABLE)
    finally:
        container.close()
    return Probe(
        kind="video",
        content_type=content_type,
        width=width,
        height=height,
        duration_seconds=round(duration, 3),
        fps=fps,
    )


def _demux_end(
    container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[float | None, int]:
    """(end time in seconds of the last video packet, number of video packets)."""
    end: float | None = None
    frames = 0
    base = stream.time_base or Fraction(1, 1)
    start = stream.start_time or 0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        frames += 1
        stop = float((packet.pts - start + (packet.duration or 0)) * base)
        if end is None or stop > end:
            end = stop
    return end, frames


def _decodes(source: Source) -> bool:
    """Whether the first picture decodes (a fresh open: the demux pass consumed the file)."""
    _rewind(source)
    with av.open(source, mode="r") as container:
        for _frame in container.decode(video=0):
            return True
    return False


def probe(source: Source, head: bytes) -> Probe:
    family = sniff(head)
    if family == "image":
        return probe_image(source)
    if family == "video":
        return probe_video(source, head)
    raise MediaRejected(
        "its content is not a PNG, JPG or WebP image nor an MP4, MOV or WebM video "
        "(the file name does not decide)",
        VIDEO_FORMAT,
    )


def _to_jpeg(image: Image.Image) -> bytes:
    image = ImageOps.exif_transpose(image)
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=82, optimize=True)
    return out.getvalue()


def image_thumbnail(source: Source) -> bytes:
    _rewind(source)
    with Image.open(source) as image:
        image.load()
        return _to_jpeg(image)


def video_poster(source: Source, *, at_seconds: float = 0.5) -> bytes:
    """A JPEG of the frame at about ``at_seconds`` (or the last frame before it)."""
    _rewind(source)
    chosen = None
    with av.open(source, mode="r") as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            chosen = frame
            if (frame.time is not None and frame.time >= at_seconds) or index > 120:
                break
        if chosen is None:
            raise MediaRejected("no picture could be decoded from it")
        return _to_jpeg(chosen.to_image())


def _mmss(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _long(seconds: float) -> str:
    """A length just over the limit must not read as the limit itself: 5:00.25, not 5:00."""
    if abs(seconds - round(seconds)) < 0.005:
        return _mmss(seconds)
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def _short(exc: Exception) -> str:
    # FFmpeg errors carry the (temporary) file name in str(); members need only the reason.
    text = str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__
    return public_message(text, limit=120)
