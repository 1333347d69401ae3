"""Alpha exports of a long 1080p transparent result: time and the worker's memory growth.

    .venv/bin/python bench/exports.py [--seconds 60] [--fps 30] [--formats webm,mov,png]

1. Synthesizes, with PyAV (libx264, streamed frame by frame), a transparent result as Viggle
   returns it: a 1920x1080 MP4 of a figure moving over a solid background, and its mask MP4
   (white = character). The render itself is not what is measured, so the job row is written
   complete with these two files in storage (the tests reach that state through the simulator).
2. For each format, asks for the export with the real service (``export_request``), then runs
   the worker's task (``viggle_web.exports.tasks.export_make``) in a fresh child process, as a
   django-q2 worker process would: after Django, PyAV and numpy are loaded it reads its VmRSS,
   runs the task, and reports its VmHWM (peak). Growth = peak - that baseline.
3. Prints, per format: wall time, time / video duration, frames per second, file size, peak
   memory growth, and whether it is under the 200 MB target.

Needs a Postgres (DATABASE_URL's server or a throwaway one it starts); its own scratch database
and media folder, both removed at the end. Uses the machine's cores as the worker would
(EXPORT_THREADS, default 2).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402
from bench._rows import row  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
TARGET_MB = 200


def synthesize(video: Path, mask: Path, *, seconds: float, fps: int) -> int:
    """The result and its mask, written frame by frame (a few frames in memory at most)."""
    import av
    import numpy as np

    frames = round(seconds * fps)
    outputs = []
    for path in (video, mask):
        container = av.open(str(path), mode="w", format="mp4")
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        outputs.append((container, stream))
    # A figure sprite (body + head, textured) moved over the frame: cheap to draw per frame.
    sh, sw = 1000, 560
    ys, xs = np.mgrid[0:sh, 0:sw]
    figure = (((xs - sw / 2) / 260) ** 2 + ((ys - 620) / 380) ** 2 <= 1.0) | (
        (xs - sw / 2) ** 2 + (ys - 130) ** 2 <= 110**2
    )
    texture = np.stack([(xs * 3) % 256, (ys * 2) % 256, np.full_like(xs, 90)], 2).astype(np.uint8)
    background = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    background[..., 1] = 200  # Viggle paints the transparent background a flat colour
    blank = np.zeros((HEIGHT, WIDTH), np.uint8)
    try:
        for index in range(frames):
            t = index / fps
            x = int((WIDTH - sw) / 2 + np.sin(t * 1.3) * (WIDTH - sw) / 2)
            y = int((HEIGHT - sh) / 2 + np.cos(t * 2.1) * (HEIGHT - sh) / 2)
            picture = background.copy()
            region = picture[y : y + sh, x : x + sw]
            region[figure] = np.roll(texture, index * 7, axis=1)[figure]
            matte = blank.copy()
            matte[y : y + sh, x : x + sw][figure] = 255
            for (container, stream), array, fmt in zip(
                outputs, (picture, matte), ("rgb24", "gray"), strict=True
            ):
                frame = av.VideoFrame.from_ndarray(array, format=fmt)
                frame.pts = index
                for packet in stream.encode(frame):
                    container.mux(packet)
        for container, stream in outputs:
            for packet in stream.encode():
                container.mux(packet)
    finally:
        for container, _ in outputs:
            container.close()
    return frames


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def child(export_id: int) -> None:
    """One worker task in this fresh process; prints JSON figures."""
    import django

    django.setup()
    import av  # noqa: F401 - loaded before the baseline, as in a worker that ran any task
    import numpy  # noqa: F401

    from viggle_web.exports import media, tasks  # noqa: F401
    from viggle_web.exports.models import Export

    baseline = _kib("VmRSS")
    cpu_before = sum(os.times()[:2])
    began = time.perf_counter()
    tasks.export_make(export_id)
    elapsed = time.perf_counter() - began
    cpu = sum(os.times()[:2]) - cpu_before
    export = Export.objects.get(pk=export_id)
    print(
        json.dumps(
            {
                "status": export.status,
                "error": export.error_message,
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "baseline_kib": baseline,
                "peak_kib": _kib("VmHWM"),
                "size": export.size,
                "frames": export.frames,
                "duration": export.duration_seconds,
            }
        )
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--formats", default="webm,mov,png")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child)
        return []

    work = Path(tempfile.mkdtemp(prefix="viggle-bench-exports."))
    media_root = work / "media"
    media_root.mkdir()
    try:
        video, mask = work / "result.mp4", work / "mask.mp4"
        began = time.perf_counter()
        frames = synthesize(video, mask, seconds=args.seconds, fps=args.fps)
        print(
            f"synthesized {frames} frames {WIDTH}x{HEIGHT} @ {args.fps} fps "
            f"({args.seconds:.0f} s): result {video.stat().st_size / 1e6:.1f} MB, "
            f"mask {mask.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - began:.0f} s"
        )
        with _pg.scratch_database() as db_url:
            _pg.setup_django(db_url, media_root=str(media_root))
            results = run_formats(
                db_url, media_root, video, mask, args.formats.split(","), args.seconds
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    header = f"{'format':<6} {'time s':>7} {'x video':>8} {'cpu s':>7} {'cpu x video':>11}"
    print(f"{header} {'fps':>6} {'MB':>8} {'growth MB':>10}")
    for fmt, r in results.items():
        growth = (r["peak_kib"] - r["baseline_kib"]) / 1024
        verdict = "ok" if growth < TARGET_MB else f"OVER {TARGET_MB} MB"
        print(
            f"{fmt:<6} {r['seconds']:>7.1f} {r['seconds'] / args.seconds:>8.2f} "
            f"{r['cpu_seconds']:>7.1f} {r['cpu_seconds'] / args.seconds:>11.2f} "
            f"{r['frames'] / r['seconds']:>6.1f} {r['size'] / 1e6:>8.1f} {growth:>10.0f}  "
            f"{verdict}  (status {r['status']}, {r['frames']} frames, {r['duration']} s)"
        )
    return [
        row(
            f"{fmt} export of {args.seconds:g} s: worker memory growth",
            (r["peak_kib"] - r["baseline_kib"]) / 1024,
            "MB",
            TARGET_MB,
            "<",
        )
        for fmt, r in results.items()
    ]


def run_formats(
    db_url: str, media_root: Path, video: Path, mask: Path, formats: list[str], seconds: float
) -> dict[str, dict]:
    from django.core.files import File

    from viggle_web.accounts.models import User
    from viggle_web.exports.services import export_request
    from viggle_web.renders.models import RenderJob

    owner = User.objects.create_user(username="bench", password="bench-password-1")
    job = RenderJob(
        owner=owner,
        idempotency_key="bench-exports",
        background_mode=RenderJob.Background.TRANSPARENT,
        status=RenderJob.Status.COMPLETE,
        output_seconds=seconds,
    )
    with video.open("rb") as v, mask.open("rb") as m:
        job.output.save("output.mp4", File(v), save=False)
        job.mask.save("mask.mp4", File(m), save=False)
    job.output_size = video.stat().st_size
    job.save()
    results = {}
    for fmt in formats:
        export = export_request(job=job, actor=owner, fmt=fmt)
        env = _pg.child_env(db_url, str(media_root))
        done = subprocess.run(
            [_pg.PYTHON, __file__, "--child", str(export.pk)],
            env=env,
            cwd=_pg.ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"{fmt}: the worker task failed:\n{done.stderr[-3000:]}")
        results[fmt] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[fmt]
        print(
            f"{fmt}: {r['status']} in {r['seconds']:.1f} s, peak growth "
            f"{(r['peak_kib'] - r['baseline_kib']) / 1024:.0f} MB, cpu {r['cpu_seconds']:.1f} s, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    os.environ.pop("DATABASE_URL", None)
    return results


if __name__ == "__main__":
    main()
