"""Make small, real media files in tests (no fixtures on disk, no Django needed).

make_png(path, size=(256, 256))                -> a PNG with a figure on a transparent background
make_jpg(path, size=(256, 256))                -> the same as an RGB JPEG
make_mp4(path, seconds=2.0, size=(160, 120), fps=12) -> an H.264 MP4 with moving content
probe_mp4(path)                                -> VideoFacts(duration, fps, frames, width, height)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw


def _figure(size: tuple[int, int], background: tuple[int, int, int, int]) -> Image.Image:
    width, height = size
    img = Image.new("RGBA", size, background)
    draw = ImageDraw.Draw(img)
    cx = width // 2
    head = max(4, min(width, height) // 8)
    draw.ellipse((cx - head, height // 8, cx + head, height // 8 + 2 * head), fill="#f2c94c")
    draw.rectangle((cx - head, height // 8 + 2 * head, cx + head, height * 3 // 4), fill="#2f80ed")
    draw.line((cx, height * 3 // 4, cx - head, height - 4), fill="#333333", width=max(2, head // 3))
    draw.line((cx, height * 3 // 4, cx + head, height - 4), fill="#333333", width=max(2, head // 3))
    return img


def make_png(path: str | Path, size: tuple[int, int] = (256, 256)) -> Path:
    path = Path(path)
    _figure(size, (0, 0, 0, 0)).save(path, format="PNG")
    return path


def make_jpg(path: str | Path, size: tuple[int, int] = (256, 256)) -> Path:
    path = Path(path)
    _figure(size, (255, 255, 255, 255)).convert("RGB").save(path, format="JPEG", quality=85)
    return path


def make_mp4(
    path: str | Path,
    seconds: float = 2.0,
    size: tuple[int, int] = (160, 120),
    fps: int = 12,
    codec: str = "libx264",
) -> Path:
    """An MP4 of `seconds` (rounded to whole frames) with a dot moving over a gradient."""
    path = Path(path)
    width, height = size
    frames = max(1, round(seconds * fps))
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "30"}
        for index in range(frames):
            t = index / fps
            img = Image.new("RGB", size, (30 + (index * 7) % 200, 60, 120))
            draw = ImageDraw.Draw(img)
            x = int((0.5 + 0.4 * math.sin(t * 2 * math.pi / 2)) * width)
            r = max(2, min(width, height) // 10)
            draw.ellipse((x - r, height // 2 - r, x + r, height // 2 + r), fill=(250, 250, 250))
            frame = av.VideoFrame.from_image(img)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@dataclass(frozen=True)
class VideoFacts:
    duration: float
    fps: float
    frames: int
    width: int
    height: int
    codec: str


def probe_mp4(path: str | Path) -> VideoFacts:
    """Decode every frame (proves the file plays) and report what it is."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 0)
        count = sum(1 for _ in container.decode(stream))
        width, height = stream.codec_context.width, stream.codec_context.height
        codec = stream.codec_context.name
    duration = count / rate if rate else 0.0
    return VideoFacts(
        duration=duration, fps=rate, frames=count, width=width, height=height, codec=codec
    )
