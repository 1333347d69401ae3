"""Each export of a transparent result, asked for on the job page and made by the worker's task,
decoded back with PyAV: the alpha plane exists and follows the mask (transparent where it is
black, opaque where it is white), and frame count and duration are the source's."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
from django.db.models import Sum
from django.urls import reverse
from numpy.lib.stride_tricks import sliding_window_view

from tests.exports.conftest import decode_gray, decode_rgb, stream_seconds
from viggle_web.exports import tasks
from viggle_web.exports.models import Export
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)

# The mask and the result are lossy H.264 and WebM's alpha is lossy VP9: away from edges the
# alpha must still be (almost) exactly 0 or 255.
TRANSPARENT_MAX = {"webm": 12, "mov": 2, "png": 0}
OPAQUE_MIN = {"webm": 243, "mov": 253, "png": 255}


def read_export(fmt: str, data: bytes, tmp_path: Path) -> tuple[list[np.ndarray], float]:
    """(RGBA frames, duration in seconds) of an export, decoded with PyAV."""
    if fmt == "png":
        frames = []
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted(n for n in archive.namelist() if n.endswith(".png"))
            info = json.loads(archive.read("sequence.json"))
            for name in names:
                with av.open(io.BytesIO(archive.read(name)), format="png_pipe") as image:
                    (frame,) = list(image.decode(video=0))
                    assert frame.format.name == "rgba", frame.format.name
                    frames.append(frame.to_ndarray())
        assert info["frames"] == len(frames)
        return frames, len(frames) / info["fps"]
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(data)
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if fmt == "webm":
            # FFmpeg's own vp9 decoder ignores the alpha side stream; libvpx's reads it.
            assert stream.codec_context.name == "vp9"
            decoder = av.CodecContext.create("libvpx-vp9", "r")
            decoded = (f for packet in container.demux(stream) for f in decoder.decode(packet))
            duration = container.duration / av.time_base
        else:
            assert stream.codec_context.name == "prores"
            decoded = container.decode(stream)
            duration = float(stream.duration * stream.time_base)
        for frame in decoded:
            assert frame.format.name.startswith("yuva"), frame.format.name  # an alpha plane
            frames.append(frame.to_ndarray(format="rgba"))
    return frames, duration


def interior(mask: np.ndarray, *, white: bool) -> np.ndarray:
    """Pixels whose whole 7x7 neighbourhood is black (or white) in the mask: away from edges,
    where lossy chroma and block edges blur the matte."""
    windows = sliding_window_view(np.pad(mask, 3, mode="edge"), (7, 7))
    if white:
        return windows.min(axis=(2, 3)) >= 245
    return windows.max(axis=(2, 3)) <= 10


@pytest.mark.parametrize("fmt", ["webm", "mov", "png"])
def test_an_export_has_an_alpha_plane_that_follows_the_mask(
    fmt, member_client, transparent_job, tmp_path
):
    job = transparent_job
    ledger_before = list(CreditEntry.objects.order_by("id").values_list("kind", "credits"))

    response = member_client.post(reverse("exports:request", args=[job.public_id]), {"format": fmt})
    assert response.status_code == 302
    export = Export.objects.get(job=job)
    assert (export.format, export.status) == (fmt, "queued")

    tasks.export_make(export.pk)  # the worker's task
    export.refresh_from_db()
    assert export.status == "complete", export.error_message

    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    download = reverse("exports:download", args=[job.public_id, fmt])
    assert download in page and "Ready" in page
    response = member_client.get(download)
    assert response.status_code == 200
    assert response["Content-Type"] == export.content_type
    data = b"".join(response.streaming_content)
    frames, duration = read_export(fmt, data, tmp_path)

    masks = decode_gray(job.mask.path)
    sources = decode_rgb(job.output.path)
    assert len(frames) == len(sources) == export.frames
    source_seconds = stream_seconds(job.output.path)
    assert abs(duration - source_seconds) < 0.5 / 24, (duration, source_seconds)
    assert frames[0].shape[:2] == sources[0].shape[:2]

    rng = np.random.default_rng(21)
    checked = {"transparent": 0, "opaque": 0}
    for rgba, mask, source in zip(frames, masks, sources, strict=False):
        alpha = rgba[..., 3]
        for kind, white in (("transparent", False), ("opaque", True)):
            ys, xs = np.nonzero(interior(mask, white=white))
            if len(ys) == 0:
                continue
            pick = rng.choice(len(ys), size=min(200, len(ys)), replace=False)
            values = alpha[ys[pick], xs[pick]]
            if white:
                assert values.min() >= OPAQUE_MIN[fmt], values.min()
                # ... and the colour there is the result's own.
                diff = np.abs(rgba[ys[pick], xs[pick], :3].astype(int) - source[ys[pick], xs[pick]])
                assert diff.mean() < 12, diff.mean()
            else:
                assert values.max() <= TRANSPARENT_MAX[fmt], values.max()
            checked[kind] += len(pick)
    assert checked["transparent"] > 1000 and checked["opaque"] > 1000, checked

    # Exports count toward nothing in credits.
    assert list(CreditEntry.objects.order_by("id").values_list("kind", "credits")) == ledger_before
    assert CreditEntry.objects.aggregate(total=Sum("credits"))["total"] == job.estimate_credits
