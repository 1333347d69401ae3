"""Combining a result video and its mask (white = character) into one file with alpha, with PyAV.

Frame by frame and streamed: one decoded frame of each input and the encoder's own buffers are
all that is held, never the whole video. The mask's luma becomes the alpha plane (expanded from
the video range 16-235 to 0-255 by swscale; values within a few steps of black or white are
snapped to fully transparent/opaque so codec noise does not leave a haze).

Formats
- webm: VP9 with alpha (``libvpx-vp9``): the alpha planes are encoded first as their own VP9
  stream (spooled to a temp file), then the colour, each packet carrying its frame's alpha packet
  as Matroska BlockAdditional id 1 with AlphaMode=1 on the track: the file FFmpeg's yuva420p mode
  writes, with one VP9 encoder alive at a time instead of two (see _Vp9AlphaWebmWriter). FFmpeg's
  native ``vp9`` decoder ignores the alpha; the ``libvpx-vp9`` decoder returns ``yuva420p``.
- mov: ProRes 4444 with alpha (``prores_ks`` profile 4444, ``yuva444p10le``).
- png: an RGBA PNG per frame in a ZIP (stored, PNG is compressed already), plus sequence.json
  with the frame rate, as editors ask for it when importing an image sequence.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, Protocol

import av
import numpy as np
from av.packet import PacketSideData, packet_sidedata_type_from_literal
from PIL import Image

Progress = Callable[[int, int], None]

# Snap alpha within this many steps of 0/255 to exactly 0/255 (lossy mask codecs leave noise).
SNAP = 10
_LUT = np.arange(256, dtype=np.uint8)
_LUT[:SNAP] = 0
_LUT[256 - SNAP :] = 255

VP9_OPTIONS = {
    # No look-ahead: one packet per frame and bounded memory; "good" at cpu-used 5 is a
    # reasonable speed/quality balance for a download (bench/exports.py).
    "deadline": "good",
    "cpu-used": "5",
    "row-mt": "1",
    "crf": "30",
    "b": "0",
    "lag-in-frames": "0",
    "auto-alt-ref": "0",
}
PRORES_OPTIONS = {"profile": "4444", "vendor": "apl0", "alpha_bits": "16"}
PNG_OPTIONS = {"compression_level": "3"}
# Decoders: slice threads only. Frame threading keeps a decoded 1080p frame set per thread
# (tens of MB); the encoders are the slow part anyway.
DECODER_THREADING = "SLICE"
_BLOCK_ADDITIONAL = packet_sidedata_type_from_literal("matroska_block_additional")


class ExportFailed(Exception):
    """The export cannot be made; ``reason`` is a sentence for members."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MaskBroken(ExportFailed):
    """The mask is missing, unreadable, or does not fit the video."""


@dataclass(frozen=True)
class Result:
    frames: int
    duration_seconds: float
    width: int
    height: int
    still_png: bytes | None


class _Writer(Protocol):
    def write(self, frame: av.VideoFrame, index: int) -> None: ...

    def close(self) -> None: ...


class _VideoWriter:
    def __init__(
        self,
        out: str,
        *,
        container_format: str,
        codec: str,
        pix_fmt: str,
        options: dict[str, str],
        rate: Fraction,
        width: int,
        height: int,
        threads: int,
    ) -> None:
        self.container = av.open(out, mode="w", format=container_format)
        self.stream = self.container.add_stream(codec, rate=rate)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = pix_fmt
        self.stream.options = dict(options)
        self.stream.thread_count = threads
        self.pix_fmt = pix_fmt
        self.time_base = Fraction(1, 1) / rate

    def write(self, frame: av.VideoFrame, index: int) -> None:
        if frame.format.name != self.pix_fmt:
            frame = frame.reformat(format=self.pix_fmt)
        frame.pts = index
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()

    def abort(self) -> None:
        self.container.close()


class _PngZipWriter:
    def __init__(self, out: str, *, rate: Fraction, width: int, height: int) -> None:
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self.codec = av.CodecContext.create("png", "w")
        self.codec.width, self.codec.height = width, height
        self.codec.pix_fmt = "rgba"
        self.codec.options = dict(PNG_OPTIONS)
        self.rate = rate
        self.size = (width, height)
        self.count = 0

    def write(self, frame: av.VideoFrame, index: int) -> None:
        rgba = frame.reformat(format="rgba")
        data = b"".join(bytes(packet) for packet in self.codec.encode(rgba))
        # force_zip64 on each member: a long 4K sequence may pass 4 GB in total.
        with self.zip.open(f"frame_{index + 1:06d}.png", "w", force_zip64=True) as member:
            member.write(data)
        self.count = index + 1

    def close(self) -> None:
        info = {
            "frames": self.count,
            "fps": float(self.rate),
            "fps_fraction": f"{self.rate.numerator}/{self.rate.denominator}",
            "width": self.size[0],
            "height": self.size[1],
            "duration_seconds": round(self.count / float(self.rate), 6),
            "pixel_format": "RGBA, straight (unpremultiplied) alpha",
        }
        self.zip.writestr("sequence.json", json.dumps(info, indent=2) + "\n")
        self.zip.close()

    def abort(self) -> None:
        self.zip.close()


_RECORD = struct.Struct(">qI")  # pts, size: one alpha packet in the spool file


def _vp9_encoder(*, rate: Fraction, width: int, height: int, threads: int):
    codec = av.CodecContext.create("libvpx-vp9", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, 1) / rate
    codec.framerate = rate
    codec.options = dict(VP9_OPTIONS)
    codec.thread_count = threads
    return codec


def encode_alpha_stream(
    frames: Iterator[np.ndarray],
    spool: IO[bytes],
    *,
    rate: Fraction,
    width: int,
    height: int,
    threads: int,
    on_frame: Callable[[int], None] | None = None,
) -> int:
    """Encode alpha planes as their own VP9 stream (Y = alpha, U = V = 128, exactly as FFmpeg's
    libvpx encoder makes its alpha stream) into ``spool``; returns the frame count."""
    codec = _vp9_encoder(rate=rate, width=width, height=height, threads=threads)
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes[1:]:
        np.frombuffer(plane, dtype=np.uint8)[:] = 128
    luma = frame.planes[0]
    rows = np.frombuffer(luma, dtype=np.uint8).reshape(luma.height, luma.line_size)
    count = 0

    def spill(packets) -> None:
        for packet in packets:
            data = bytes(packet)
            spool.write(_RECORD.pack(packet.pts, len(data)))
            spool.write(data)

    for alpha in frames:
        rows[:, :width] = alpha
        frame.pts = count
        spill(codec.encode(frame))
        count += 1
        if on_frame is not None:
            on_frame(count)
    spill(codec.encode(None))
    return count


class _Vp9AlphaWebmWriter:
    """WebM with VP9 alpha, made in two passes so that only one VP9 encoder is alive at a time
    (at 1080p each holds ~150 MB; FFmpeg's own alpha mode runs both at once): the alpha stream
    is encoded first into a spool file (``encode_alpha_stream``), then the colour stream, each
    packet carrying its frame's alpha packet as Matroska BlockAdditional id 1 (side data, as
    libvpxenc attaches it), with AlphaMode=1 on the track. Decoders see the same file FFmpeg
    would write."""

    def __init__(
        self, out: str, spool: IO[bytes], *, rate: Fraction, width: int, height: int, threads: int
    ) -> None:
        self.container = av.open(out, mode="w", format="webm")
        self.stream = self.container.add_stream("libvpx-vp9", rate=rate)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = dict(VP9_OPTIONS)
        self.stream.thread_count = threads
        self.stream.metadata["alpha_mode"] = "1"
        self.time_base = Fraction(1, 1) / rate
        self.spool = spool
        self.spool.seek(0)

    def _alpha_for(self, pts: int) -> bytes:
        while True:
            head = self.spool.read(_RECORD.size)
            if len(head) < _RECORD.size:
                raise MaskBroken("The mask video has fewer frames than the video.")
            alpha_pts, size = _RECORD.unpack(head)
            data = self.spool.read(size)
            if alpha_pts == pts:
                return data
            if alpha_pts > pts:
                raise ExportFailed("The alpha stream went out of step with the video.")

    def _mux(self, packets) -> None:
        for packet in packets:
            alpha = self._alpha_for(packet.pts)
            side = PacketSideData(_BLOCK_ADDITIONAL, len(alpha) + 8)
            side.update(struct.pack(">Q", 1) + alpha)
            packet.set_sidedata(side, move=True)
            self.container.mux(packet)

    def write(self, frame: av.VideoFrame, index: int) -> None:
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        frame.pts = index
        frame.time_base = self.time_base
        self._mux(self.stream.encode(frame))

    def close(self) -> None:
        try:
            self._mux(self.stream.encode())
        finally:
            self.container.close()

    def abort(self) -> None:
        self.container.close()


def _writer(
    fmt: str,
    out: str,
    *,
    rate: Fraction,
    width: int,
    height: int,
    threads: int,
    spool: IO[bytes] | None = None,
):
    if fmt == "webm":
        assert spool is not None
        return _Vp9AlphaWebmWriter(
            out, spool, rate=rate, width=width, height=height, threads=threads
        )
    if fmt == "mov":
        writer = _VideoWriter(
            out,
            container_format="mov",
            codec="prores_ks",
            pix_fmt="yuva444p10le",
            options=PRORES_OPTIONS,
            rate=rate,
            width=width,
            height=height,
            threads=threads,
        )
        writer.stream.codec_context.thread_type = "SLICE"
        return writer
    if fmt == "png":
        return _PngZipWriter(out, rate=rate, width=width, height=height)
    raise ValueError(f"unknown export format {fmt!r}")


def mask_to_alpha(mask: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The mask's luma as full-range alpha, at the video's size."""
    gray = mask.reformat(format="gray", width=width, height=height).to_ndarray()
    return _LUT[gray]


def with_alpha(frame: av.VideoFrame, alpha: np.ndarray) -> av.VideoFrame:
    """The video frame as yuva420p with ``alpha`` as its alpha plane."""
    out = frame.reformat(format="yuva420p")
    plane = out.planes[3]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    rows[:, : plane.width] = alpha
    return out


def _open(source: IO[bytes] | str, what: str, error: type[ExportFailed]):
    try:
        container = av.open(source, mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise error(f"The {what} could not be read ({_short(exc)}).")
    if not container.streams.video:
        container.close()
        raise error(f"The {what} has no video track.")
    return container


def _frames(container, what: str, error: type[ExportFailed]) -> Iterator[av.VideoFrame]:
    stream = container.streams.video[0]
    stream.thread_type = DECODER_THREADING
    try:
        yield from container.decode(stream)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise error(f"The {what} is damaged ({_short(exc)}).")


STILL_SIZE = 960


def _still(frame: av.VideoFrame) -> bytes:
    """A PNG of the frame fitted within STILL_SIZE, scaled by swscale straight to RGBA at that
    size (a full-size RGBA copy of a 1080p frame and its PIL image cost ~20 MB at the peak)."""
    scale = min(1.0, STILL_SIZE / max(frame.width, frame.height))
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    small = frame.reformat(width=width, height=height, format="rgba")
    buffer = io.BytesIO()
    Image.fromarray(small.to_ndarray(), "RGBA").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class _Source:
    width: int
    height: int
    rate: Fraction
    total: int  # frames, 0 when the container does not say


def _probe(container) -> _Source:
    stream = container.streams.video[0]
    rate = Fraction(stream.average_rate or stream.guessed_rate or 25).limit_denominator(1001)
    total = stream.frames or 0
    if not total and stream.duration and stream.time_base:
        total = round(float(stream.duration * stream.time_base) * float(rate))
    return _Source(stream.codec_context.width, stream.codec_context.height, rate, total)


def _alpha_pass(
    mask: IO[bytes] | str,
    spool: IO[bytes],
    source: _Source,
    *,
    still_at: int,
    threads: int,
    on_progress: Progress | None,
) -> tuple[int, np.ndarray | None]:
    """WebM's first pass: the mask's alpha planes encoded into ``spool``. Its decoder, encoder and
    frames are all released when this returns (the second pass holds only its own)."""
    still_alpha: np.ndarray | None = None
    mask_in = _open(mask, "mask video", MaskBroken)
    with (
        contextlib.closing(mask_in),
        contextlib.closing(_frames(mask_in, "mask video", MaskBroken)) as masks,
    ):

        def alphas() -> Iterator[np.ndarray]:
            nonlocal still_alpha
            for index, matte in enumerate(itertools.islice(masks, source.total or None)):
                alpha = mask_to_alpha(matte, source.width, source.height)
                if index == still_at:
                    still_alpha = alpha.copy()
                yield alpha

        total = source.total
        count = encode_alpha_stream(
            alphas(),
            spool,
            rate=source.rate,
            width=source.width,
            height=source.height,
            threads=threads,
            on_frame=(lambda n: on_progress(n, 2 * max(total, n))) if on_progress else None,
        )
    return count, still_alpha


def combine(
    *,
    video: IO[bytes] | str,
    mask: IO[bytes] | str,
    fmt: str,
    out: str,
    on_progress: Progress | None = None,
    threads: int = 2,
) -> Result:
    """Write ``video`` + ``mask`` as one file with alpha at the path ``out``.

    Raises MaskBroken when the mask is unreadable, damaged or shorter than the video, and
    ExportFailed for an unreadable video; the inputs are only read.

    Memory (bench/exports.py): at most one encoder and one decoder are open at a time for WebM.
    The video is probed and closed before the alpha pass (opening a container decodes a few
    frames to probe it, which keeps a decoder and its frame pool), and the alpha pass's decoder
    and encoder are gone before the colour pass opens the video again."""
    probe = _open(video, "result video", ExportFailed)
    with contextlib.closing(probe):
        source = _probe(probe)
    del probe
    still_at = min(source.total // 2, 12)
    with contextlib.ExitStack() as stack:
        spool = None
        mask_in = None
        mask_frames = 0
        still_alpha: np.ndarray | None = None
        if fmt == "webm":
            # First pass: the alpha stream alone (one VP9 encoder alive at a time). The second
            # pass reads no mask: a missing alpha packet means the mask was too short.
            spool = stack.enter_context(tempfile.TemporaryFile(prefix="viggle-alpha-"))
            mask_frames, still_alpha = _alpha_pass(
                mask, spool, source, still_at=still_at, threads=threads, on_progress=on_progress
            )
        else:
            mask_in = stack.enter_context(contextlib.closing(_open(mask, "mask video", MaskBroken)))
        _rewind(video)
        video_in = stack.enter_context(
            contextlib.closing(_open(video, "result video", ExportFailed))
        )
        alphas: Iterator[np.ndarray] = iter(())
        if mask_in is not None:
            masks = stack.enter_context(
                contextlib.closing(_frames(mask_in, "mask video", MaskBroken))
            )
            alphas = (mask_to_alpha(matte, source.width, source.height) for matte in masks)
        frames = stack.enter_context(
            contextlib.closing(_frames(video_in, "result video", ExportFailed))
        )
        return _second_pass(
            frames,
            alphas if mask_in is not None else None,
            _writer(
                fmt,
                out,
                rate=source.rate,
                width=source.width,
                height=source.height,
                threads=threads,
                spool=spool,
            ),
            source,
            passes=2 if spool is not None else 1,
            mask_frames=mask_frames,
            still_at=still_at,
            still_alpha=still_alpha,
            on_progress=on_progress,
        )


def _rewind(source: IO[bytes] | str) -> None:
    if not isinstance(source, str):
        source.seek(0)


def _second_pass(
    frames: Iterator[av.VideoFrame],
    alphas: Iterator[np.ndarray] | None,
    writer,
    source: _Source,
    *,
    passes: int,
    mask_frames: int,
    still_at: int,
    still_alpha: np.ndarray | None,
    on_progress: Progress | None,
) -> Result:
    """Feed the video's frames (with the mask's alpha when ``alphas`` is given; WebM's alpha is
    in the spool already) to ``writer``."""
    total = source.total
    count = 0
    still: bytes | None = None
    try:
        for frame in frames:
            if alphas is not None:
                alpha = next(alphas, None)
                if alpha is None:
                    raise MaskBroken(_too_short(count, total))
                frame = with_alpha(frame, alpha)
                if count == still_at:
                    still = _still(frame)
            elif count >= mask_frames:
                raise MaskBroken(_too_short(mask_frames, total))
            elif count == still_at and still_alpha is not None:
                still = _still(with_alpha(frame, still_alpha))
            writer.write(frame, count)
            count += 1
            if on_progress is not None:
                done = (passes - 1) * max(total, count) + count
                on_progress(done, passes * max(total, count))
        if count == 0:
            raise ExportFailed("No picture could be decoded from the result video.")
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return Result(
        frames=count,
        duration_seconds=round(count / float(source.rate), 6),
        width=source.width,
        height=source.height,
        still_png=still,
    )


def _too_short(frames: int, total: int) -> str:
    return (
        f"The mask video ends after {frames} frames but the video has more "
        f"({total or 'unknown'}); it is damaged or does not belong to this result."
    )


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__
    return text[:160]
