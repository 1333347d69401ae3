"""Time to a downloaded result: the docs' direct script vs the app; on-demand vs preprocessed.

    .venv/bin/python bench/time_to_result.py [--speed 4] [--reps 6]

(1) The same render (same PNG + MP4, same simulated duration) done
    direct: the documented quick-start (requests: POST /api/render with the two files, GET the
            status every 3 s with no headers, GET cdn_url) against the simulator;
    app:    a logged-in member POSTs the render form (uvicorn, production settings), follows
            the redirect to the job page, opens its SSE stream, waits for the "complete"
            fragment with the download link, downloads the MP4 from the app. A real
            ``manage.py qcluster`` worker sends the job and runs the poll loop.
    Each repetition uses a different clip length so the render's end falls at a different
    phase of a 3 s poll (a fixed length would favour one side by luck); both sides get the
    same clip. Prints each pair, the means and the ratio app/direct.
(2) Preprocessed reuse: the character and scene are prepared once through the gallery's
    service (viggle_web.assets.services.resource_request + the worker); then renders of the
    same pair through the app, on demand (other copies of the inputs, not prepared) and
    preprocessed, at a speed where the simulator's ~3x difference is visible.

Needs a Postgres (DATABASE_URL's server or a throwaway one it starts). Creates and drops its own
database ``viggle_bench_<pid>``. Loopback only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402
from bench._rows import row  # noqa: E402

KEY = "sk-simulator-local-dev"


def direct_script(base: str, png: Path, mp4: Path, out: Path) -> float:
    """The docs' quick-start, as team scripts copy it."""
    import requests

    began = time.monotonic()
    with open(png, "rb") as ref, open(mp4, "rb") as drv:
        response = requests.post(
            f"{base}/api/render",
            headers={"Authorization": f"Bearer {KEY}"},
            files={"ref_image": ref, "driving_video": drv},
            timeout=60,
        )
    job_id = response.json()["job_id"]
    while True:
        time.sleep(3)
        status = requests.get(f"{base}/api/render/{job_id}", timeout=60).json()
        if status["status"] == "complete":
            break
        if status["status"] == "failed":
            raise RuntimeError(status.get("error_message"))
    video = requests.get(status["cdn_url"], timeout=60)
    out.write_bytes(video.content)
    return time.monotonic() - began


def app_render(base: str, cookie: str, character_id: int, motion_id: int, out: Path) -> float:
    """What a member's browser does: form POST, job page, SSE until complete, download."""
    import httpx

    began = time.monotonic()
    with httpx.Client(base_url=base, cookies={"sessionid": cookie}, timeout=60) as client:
        page = client.get("/renders/new/")
        csrf = client.cookies.get("csrftoken")
        assert page.status_code == 200 and csrf, page.status_code
        response = client.post(
            "/renders/new/",
            data={
                "character": str(character_id),
                "motion": str(motion_id),
                "model": "V4_Preview",
                "background_mode": "original",
                "bg_color": "#00ff00",
                "idempotency_key": uuid.uuid4().hex,
                "csrfmiddlewaretoken": csrf,
            },
            headers={"Referer": f"{base}/renders/new/"},
            follow_redirects=True,
        )
        assert response.status_code == 200, (response.status_code, response.text[:500])
        public_id = str(response.url).rstrip("/").rsplit("/", 1)[-1]
        link = None
        if 'data-status="complete"' not in response.text:
            url = f"/renders/stream/?jobs={public_id}&view=detail"
            with client.stream("GET", url, timeout=httpx.Timeout(60, read=60)) as stream:
                for line in stream.iter_lines():
                    if 'data-status="failed"' in line:
                        raise RuntimeError(f"render {public_id} failed")
                    if "?file=output" in line and "download" in line:
                        link = f"/renders/{public_id}/download/?file=output"
                        break
        else:
            link = f"/renders/{public_id}/download/?file=output"
        assert link, "stream ended without the download link"
        video = client.get(link)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp", video.status_code
        out.write_bytes(video.content)
    return time.monotonic() - began


def make_asset(user, path: Path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from viggle_web.assets.services import asset_create

    upload = SimpleUploadedFile(path.name, path.read_bytes())
    return asset_create(user=user, upload=upload).asset


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=4.0, help="simulator speed for part 1")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--speed2", type=float, default=2.0, help="simulator speed for part 2")
    parser.add_argument("--reps2", type=int, default=3)
    parser.add_argument("--parts", default="1,2", help="which parts to run: 1, 2 or 1,2")
    args = parser.parse_args(argv)
    rows: list[dict] = []

    from tests.media_factory import make_mp4, make_png

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="viggle-bench-") as tmp:
        tmpdir = Path(tmp)
        media_root, log_dir = str(tmpdir / "media"), str(tmpdir / "logs")
        os.makedirs(media_root)
        os.makedirs(log_dir)
        with _pg.scratch_database() as db_url:
            _pg.setup_django(db_url, media_root=media_root)
            from viggle_web.accounts.models import User
            from viggle_web.assets.models import ViggleResource
            from viggle_web.assets.services import resource_request
            from viggle_web.simulator.models import SimState

            user = User.objects.create_user(username="bench-member", password="x", role="admin")
            SimState.objects.create(pk=1, credits=1_000_000, speed=args.speed)
            sim, sim_base = _pg.start_simulator(db_url, media_root, log_dir, speed=args.speed)
            env = _pg.child_env(db_url, media_root, VIGGLE_BASE_URL=sim_base, Q_POLL="0.2")
            web, base = _pg.start_uvicorn(env, log_dir)
            worker = _pg.Proc("qcluster", [_pg.PYTHON, "manage.py", "qcluster"], env, log_dir)
            cookie = _pg.session_cookie(user)
            try:
                # --- (1) direct vs app ----------------------------------------------------
                parts = set(args.parts.split(","))
                clips = [1.0 + 2.5 * i / max(1, args.reps - 1) for i in range(args.reps)]
                pairs = []
                for i, seconds in enumerate(clips):
                    png = make_png(tmpdir / f"char{i}.png", size=(128 + i, 128))
                    mp4 = make_mp4(tmpdir / f"motion{i}.mp4", seconds=seconds, size=(160, 120))
                    pairs.append((png, mp4, make_asset(user, png), make_asset(user, mp4)))
                # warm-up: the worker's first task, the web process's first page
                app_render(base, cookie, pairs[0][2].pk, pairs[0][3].pk, tmpdir / "warm.mp4")
                print(
                    f"(1) direct quick-start script vs the app, simulator speed {args.speed:g} "
                    f"(render = (8 s + 4 s x clip seconds) / {args.speed:g}); "
                    "times include upload and download"
                )
                print(f"{'clip':>6} {'render':>7} {'direct':>8} {'app':>8} {'app/direct':>10}")
                direct_times, app_times = [], []
                for i, (png, mp4, char, motion) in enumerate(pairs if "1" in parts else []):
                    seconds = motion.duration_seconds
                    d = direct_script(sim_base, png, mp4, tmpdir / f"direct{i}.mp4")
                    # a fresh job: the same inputs, the same simulated duration
                    a = app_render(base, cookie, char.pk, motion.pk, tmpdir / f"app{i}.mp4")
                    direct_times.append(d)
                    app_times.append(a)
                    print(
                        f"{seconds:>5.2f}s {(8 + 4 * seconds) / args.speed:>6.2f}s "
                        f"{d:>7.2f}s {a:>7.2f}s {a / d:>10.2f}",
                        flush=True,
                    )
                if direct_times:
                    mean_d, mean_a = statistics.mean(direct_times), statistics.mean(app_times)
                    print(
                        f"mean over {args.reps}: direct {mean_d:.2f}s, app {mean_a:.2f}s, "
                        f"ratio app/direct {mean_a / mean_d:.2f} (target <= 1.0)"
                    )
                    rows.append(
                        row("time to result, app / direct script", mean_a / mean_d, "x", 1.0, "<=")
                    )
                if "2" not in parts:
                    return rows

                # --- (2) on demand vs preprocessed ---------------------------------------
                SimState.objects.filter(pk=1).update(speed=args.speed2)
                png = make_png(tmpdir / "pre.png", size=(200, 200))
                mp4 = make_mp4(tmpdir / "pre.mp4", seconds=2.0, size=(160, 120))
                char, motion = make_asset(user, png), make_asset(user, mp4)
                png2 = make_png(tmpdir / "ond.png", size=(201, 200))
                mp42 = make_mp4(tmpdir / "ond.mp4", seconds=2.0, size=(176, 120))
                char2, motion2 = make_asset(user, png2), make_asset(user, mp42)
                t0 = time.monotonic()
                resource_request(asset=char, user=user)
                resource_request(asset=motion, user=user, model="V4_Preview")
                deadline = time.monotonic() + 60
                while ViggleResource.objects.filter(status="ready").count() < 2:
                    if time.monotonic() > deadline:
                        raise RuntimeError("preprocessing did not finish in 60 s")
                    time.sleep(0.1)
                prep = time.monotonic() - t0
                print(
                    f"\n(2) on demand vs preprocessed through the app, simulator speed "
                    f"{args.speed2:g}, 2.0 s clip (simulated render {16 / args.speed2:.1f}s on "
                    f"demand, {16 / 3 / args.speed2:.1f}s preprocessed); character + scene "
                    f"prepared once in {prep:.1f}s"
                )
                on_demand, pre = [], []
                for i in range(args.reps2):
                    on_demand.append(
                        app_render(base, cookie, char2.pk, motion2.pk, tmpdir / f"o{i}.mp4")
                    )
                    pre.append(app_render(base, cookie, char.pk, motion.pk, tmpdir / f"p{i}.mp4"))
                    print(
                        f"  run {i + 1}: on demand {on_demand[-1]:.2f}s, "
                        f"preprocessed {pre[-1]:.2f}s"
                    )
                from viggle_web.simulator.models import SimJob

                modes = sorted(set(SimJob.objects.values_list("mode", flat=True)))
                mean_o, mean_p = statistics.mean(on_demand), statistics.mean(pre)
                print(
                    f"mean per render: on demand {mean_o:.2f}s, preprocessed {mean_p:.2f}s, "
                    f"{mean_o / mean_p:.1f}x faster (upstream modes seen: {', '.join(modes)})"
                )
            finally:
                worker.stop()
                web.stop()
                sim.stop()
                from django.db import connections

                connections.close_all()
    print(f"(total {time.monotonic() - began:.0f}s; {os.cpu_count()} cores)")
    return rows


if __name__ == "__main__":
    main()
