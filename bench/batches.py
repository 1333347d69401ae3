"""Batches: a 100-render batch in one request, the batch page with 100 live rows, and the ZIP of
100 results streamed from storage.

    .venv/bin/python bench/batches.py [--runs 30] [--result-mb 2]

1. A member posts the batch form (10 characters x 10 motions) through Django's test client in
   production settings: one request writes the batch, 100 jobs and their reservations under the
   budget locks (an organisation budget is set, so the checks run). Wall time of that request.
2. The batch page while all 100 renders are active (every cell carries its SSE swap): ``--runs``
   GETs, p95 and median.
3. The 100 renders are given results of ``--result-mb`` MB each in storage (written directly: the
   render itself is not measured, as in bench/exports.py), then the ZIP is downloaded through the
   view and written to disk chunk by chunk. The process's RSS is sampled at every chunk; growth =
   peak - RSS before the request. The ZIP is then opened and its 100 members counted.

Prints the figures and returns them from ``main()`` as rows {figure, value, unit, limit, ratio,
target, met}. Needs a Postgres (DATABASE_URL's server or a throwaway one it starts); its own
scratch database and media folder, both removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402

SUBMIT_LIMIT_S = 5.0
PAGE_P95_LIMIT_MS = 500.0
ZIP_GROWTH_LIMIT_MB = 64.0


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _row(figure: str, value: float, unit: str, limit: float) -> dict:
    return {
        "figure": figure,
        "value": round(value, 2),
        "unit": unit,
        "limit": limit,
        "ratio": round(value / limit, 3),
        "target": f"< {limit:g} {unit}",
        "met": value < limit,
    }


def run(args: argparse.Namespace) -> list[dict]:
    from django.core.files.base import ContentFile
    from django.test import Client
    from django.urls import reverse

    from viggle_web.accounts.models import User
    from viggle_web.assets.models import Asset
    from viggle_web.batches.models import Batch
    from viggle_web.renders.models import RenderJob
    from viggle_web.usage.services import org_budget_set

    admin = User.objects.create_user(username="bench-admin", role="admin")
    member = User.objects.create_user(username="bench-member")
    org_budget_set(actor=admin, monthly_cap=1_000_000)

    def asset(kind: str, n: int) -> Asset:
        digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        return Asset.objects.create(
            kind=kind,
            name=f"{kind}-{n:02d}",
            sha256=digest,
            uploaded_by=member,
            duration_seconds=2.0 if kind == "video" else None,
            width=640,
            height=360,
        )

    characters = [asset("image", n) for n in range(10)]
    motions = [asset("video", n) for n in range(10)]
    client = Client()
    client.force_login(member)
    client.get(reverse("batches:new"))  # warm: templates, URL conf, connections

    import cProfile

    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    response = client.post(
        reverse("batches:new"),
        {
            "characters": [a.pk for a in characters],
            "motions": [a.pk for a in motions],
            "model": "V4_Preview",
            "background_mode": "original",
            "bg_color": "#00ff00",
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    submit_s = time.perf_counter() - started
    if profiler:
        profiler.disable()
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    assert response.status_code == 302, response.content[:500]
    batch = Batch.objects.get()
    jobs = RenderJob.objects.filter(batch_item__batch=batch)
    assert jobs.count() == 100 and all(job.is_active for job in jobs)
    print(f"1. 100-render batch submitted in one request: {submit_s:.2f} s")

    page = reverse("batches:detail", args=[batch.public_id])
    client.get(page)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        answer = client.get(page)
        times.append((time.perf_counter() - t0) * 1000)
        assert answer.content.count(b"sse-swap=") == 100
    p95 = _pg.percentile(times, 95)
    print(
        f"2. batch page, 100 live rows: p95 {p95:.1f} ms, median "
        f"{statistics.median(times):.1f} ms ({args.runs} runs)"
    )

    size = int(args.result_mb * 1024 * 1024)
    block = os.urandom(size)  # one buffer reused: the bench process holds one result, not 100
    for job in jobs:
        job.output.save(f"{job.public_id}.mp4", ContentFile(block), save=False)
        RenderJob.objects.filter(pk=job.pk).update(
            status=RenderJob.Status.COMPLETE, output=job.output.name, output_size=size
        )
    del block
    total_mb = 100 * size / 1024 / 1024
    baseline = _rss_mb()
    peak = baseline
    zip_path = Path(args.media) / "bench.zip"
    t0 = time.perf_counter()
    answer = client.get(reverse("batches:zip", args=[batch.public_id]))
    with zip_path.open("wb") as out:
        for chunk in answer.streaming_content:
            out.write(chunk)
            peak = max(peak, _rss_mb())
    zip_s = time.perf_counter() - t0
    growth = peak - baseline
    with zipfile.ZipFile(zip_path) as archive:
        members = archive.infolist()
        assert len(members) == 100 and all(m.file_size == size for m in members)
    print(
        f"3. ZIP of 100 results ({total_mb:.0f} MB) streamed in {zip_s:.1f} s: memory growth "
        f"{growth:.1f} MB"
    )
    return [
        _row("100-render batch submitted in one request", submit_s, "s", SUBMIT_LIMIT_S),
        _row("batch page p95, 100 live rows", p95, "ms", PAGE_P95_LIMIT_MS),
        _row(f"ZIP of 100 results ({total_mb:.0f} MB) memory growth", growth, "MB", 64.0),
    ]


def main() -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--result-mb", type=float, default=2.0)
    args, _ = parser.parse_known_args()
    media = tempfile.mkdtemp(prefix="viggle-bench-batches-")
    args.media = media
    try:
        with _pg.scratch_database(os.environ.get("DATABASE_URL")) as db_url:
            _pg.setup_django(db_url, media_root=media)
            rows = run(args)
            from django.db import connections

            connections.close_all()
    finally:
        shutil.rmtree(media, ignore_errors=True)
    for row in rows:
        print(
            f"  {row['figure']}: {row['value']} {row['unit']} (target {row['target']}, "
            f"{'met' if row['met'] else 'MISSED'})"
        )
    return rows


if __name__ == "__main__":
    main()
