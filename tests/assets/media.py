"""Small real media files for the gallery tests, made on the spot with Pillow and PyAV.

tests/media_factory.py (shared) makes the plain PNG, JPG and MP4; what it does not offer lives
here: WebP and odd sizes, MOV and WebM containers, fractional frame rates (a cheap 5-minute
video), and the hostile files (bombs, disguises, truncations).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image


def make_image(path: Path, *, size: tuple[int, int] = (256, 256), fmt: str = "PNG") -> Path:
    image = Image.new("RGB", size, (40, 120, 200))
    for x in range(0, size[0], 8):  # some detail, so files of different sizes hash differently
        image.putpixel((x, x % size[1]), (255, 255, 0))
    image.save(path, format=fmt)
    return path


def make_video(
    path: Path,
    *,
    seconds: float = 2.0,
    size: tuple[int, int] = (160, 120),
    fps: int | Fraction = 12,
    container: str = "mp4",
    codec: str = "libx264",
) -> Path:
    """A moving colour gradient, ``seconds`` long. ``fps`` may be a Fraction for long cheap ones."""
    rate = Fraction(fps)
    frames = max(1, round(seconds * rate))
    with av.open(str(path), mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        time_base = 1 / rate
        stream.time_base = time_base
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        for index in range(frames):
            shade = int(255 * index / frames)
            image = Image.new("RGB", size, (shade, 80, 255 - shade))
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_png_bomb(path: Path, *, side: int = 60_000) -> Path:
    """A tiny PNG whose header claims ``side`` x ``side`` pixels (mostly zeros, compressed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * (side + 1) * 16, 9)  # a few rows; the rest is "missing"
    data = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def make_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not an image")
    return path


def make_elf(path: Path) -> Path:
    path.write_bytes(
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 2000
    )
    return path


def make_shell(path: Path) -> Path:
    path.write_bytes(b"#!/bin/sh\necho pwned\n" + b"# padding\n" * 100)
    return path


def truncate(path: Path, *, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
