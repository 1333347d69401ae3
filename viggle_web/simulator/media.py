"""Probing inputs and making the simulator's real output MP4s with PyAV and Pillow."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, Any

import av
from PIL import Image, ImageDraw

# Container formats the real API accepts for driving videos (MP4/MOV, WebM).
ACCEPTED_VIDEO_FORMATS = ("mov", "mp4", "webm", "matroska")
MAX_OUTPUT_SIDE = 512


class MediaError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    fps: float
    frames: int
    width: int
    height: int


def _looks_like_video(head: bytes) -> bool:
    """Whether the first bytes are an ISO-BMFF box (MP4/MOV) or an EBML header (WebM)."""
    boxes = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
    return head[4:8] in boxes or head.startswith(b"\x1a\x45\xdf\xa3")


def probe_video(fileobj: IO[bytes]) -> VideoInfo:
    """What the driving video is; MediaError(CS-ORIV-003/007) when it is not a usable video."""
    fileobj.seek(0)
    head = fileobj.read(16)
    fileobj.seek(0)
    try:
        container = av.open(fileobj, mode="r")
    except Exception:  # PyAV raises many types for garbage input
        # A file that starts like an MP4/MOV or WebM but does not open is damaged (007); one
        # that is no video container at all is an unsupported format (003).
        if _looks_like_video(head) or not head:
            raise MediaError("CS-ORIV-007", "Video could not be read")
        raise MediaError("CS-ORIV-003", "Video format not supported")
    try:
        format_names = set(container.format.name.split(","))
        if not format_names & set(ACCEPTED_VIDEO_FORMATS):
            raise MediaError("CS-ORIV-003", "Video format not supported")
        if not container.streams.video:
            raise MediaError("CS-ORIV-003", "Video format not supported: no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = 0.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        frames = stream.frames or (round(duration * fps) if fps else 0)
        if not duration and fps and frames:
            duration = frames / fps
        if not width or not height or not fps or duration <= 0:
            raise MediaError("CS-ORIV-007", "Video could not be read")
        return VideoInfo(duration=duration, fps=fps, frames=int(frames), width=width, height=height)
    finally:
        container.close()
        fileobj.seek(0)


def check_image(fileobj: IO[bytes]) -> tuple[int, int]:
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as img:
            if img.format not in ("PNG", "JPEG", "WEBP"):
                raise MediaError("CS-UORC01-002", "Image must be PNG, JPG or WebP")
            img.verify()
            size = img.size
    except MediaError:
        raise
    except Exception:
        raise MediaError("CS-UORC01-002", "Image could not be read")
    finally:
        fileobj.seek(0)
    return size


def _even_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_OUTPUT_SIDE / max(width, height))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def source_frames(
    fileobj: IO[bytes] | None, synthetic: VideoInfo | None
) -> tuple[Iterator[Image.Image], Fraction, tuple[int, int]]:
    """Frames of the driving video (or of a synthetic template clip), the rate and the size."""
    if fileobj is not None:
        container = av.open(fileobj, mode="r")
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate or stream.guessed_rate or 12).limit_denominator(1001)
        size = _even_size(stream.codec_context.width, stream.codec_context.height)

        def decoded() -> Iterator[Image.Image]:
            try:
                for frame in container.decode(stream):
                    yield frame.to_image().convert("RGB").resize(size)
            finally:
                container.close()

        return decoded(), rate, size
    assert synthetic is not None
    size = _even_size(synthetic.width, synthetic.height)
    rate = Fraction(synthetic.fps).limit_denominator(1001)

    def generated() -> Iterator[Image.Image]:
        for index in range(synthetic.frames):
            t = index / synthetic.fps
            img = Image.new("RGB", size, (40, 40 + (index * 3) % 120, 90))
            draw = ImageDraw.Draw(img)
            w, h = size
            for person in range(2):
                x = int(w * (person + 1) / 3 + math.sin(t * 3 + person) * w * 0.05)
                draw.ellipse((x - 10, h // 3 - 10, x + 10, h // 3 + 10), fill=(220, 180, 140))
                draw.rectangle((x - 12, h // 3 + 10, x + 12, h * 3 // 4), fill=(90, 90, 200))
            yield img

    return generated(), rate, size


def _fit_character(image: Image.Image, frame_size: tuple[int, int], people: int) -> Image.Image:
    w, h = frame_size
    target_h = int(h * 0.7)
    target_w = int(w / max(1, people) * 0.8)
    scale = min(target_h / image.height, target_w / image.width)
    return image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))


def render_output(
    *,
    frames: Iterator[Image.Image],
    rate: Fraction,
    size: tuple[int, int],
    characters: list[Image.Image | None],
    background_mode: str,
    bg_color: tuple[int, int, int],
    out: IO[bytes],
    mask_out: IO[bytes] | None,
) -> int:
    """Composite each character over the motion frames; returns the frame count written.

    `characters` has one entry per person in the scene: None keeps that person's own look.
    """
    people = max(1, len(characters))
    fitted = [
        _fit_character(img.convert("RGBA"), size, people) if img is not None else None
        for img in characters
    ]
    outputs: list[tuple[Any, Any]] = []
    targets = [out] + ([mask_out] if mask_out is not None else [])
    for target in targets:
        container = av.open(target, mode="w", format="mp4")
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        outputs.append((container, stream))
    count = 0
    try:
        for index, background in enumerate(frames):
            t = index / float(rate)
            if background_mode in ("solid", "transparent"):
                canvas = Image.new("RGB", size, bg_color)
            else:
                canvas = background
            mask = Image.new("L", size, 0) if mask_out is not None else None
            for person, figure in enumerate(fitted):
                if figure is None:
                    continue
                sway = math.sin(t * 2 * math.pi / 1.5 + person) * size[0] * 0.04
                bob = abs(math.sin(t * 2 * math.pi / 1.5)) * size[1] * 0.03
                x = int(size[0] * (person + 1) / (people + 1) - figure.width / 2 + sway)
                y = int(size[1] - figure.height - bob)
                alpha = figure.getchannel("A")
                canvas.paste(figure, (x, y), alpha)
                if mask is not None:
                    mask.paste(255, (x, y, x + figure.width, y + figure.height), alpha)
            pictures = [canvas] + ([mask.convert("RGB")] if mask is not None else [])
            for (container, stream), picture in zip(outputs, pictures, strict=True):
                frame = av.VideoFrame.from_image(picture)
                frame.pts = index
                frame.time_base = 1 / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
            count += 1
        for container, stream in outputs:
            for packet in stream.encode():
                container.mux(packet)
    finally:
        for container, _ in outputs:
            container.close()
    return count
