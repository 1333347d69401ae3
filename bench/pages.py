"""Server time and SQL query count of the big pages at team scale.

    .venv/bin/python bench/pages.py [--assets 10000] [--jobs 100000] [--ledger 1000000]

Gallery with 10,000 assets, renders page with 100,000 jobs, the admin's year usage report over
1,000,000 ledger rows. Requests go through Django's test client in-process (full stack:
middleware, selectors, templates; production settings, DEBUG off); Viggle's balance call is
stubbed so only our server is timed. Each page is measured first at 1% of the data, then at
full size, so the query count shows whether it is constant. Prints p50/p95 over ``--runs``
requests per page (target < 100 ms) and the queries per request; ``--profile`` adds a
pyinstrument profile of the slowest page (pip install pyinstrument; bench only).

Needs a Postgres (DATABASE_URL's server or a throwaway one it starts); its own scratch database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402
from bench._rows import row  # noqa: E402
from bench.usage_report import INSERT as LEDGER_INSERT  # noqa: E402

# usage_report's module sets the test settings as a default: these benches use production ones.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.bench_settings"

YEAR = 2025


def add_assets(users: list, start: int, count: int) -> list[int]:
    from django.utils import timezone

    from viggle_web.assets.models import Asset

    now = timezone.now()
    rows = []
    for i in range(start, start + count):
        video = i % 3 == 0
        rows.append(
            Asset(
                kind=Asset.Kind.VIDEO if video else Asset.Kind.IMAGE,
                name=f"{'motion' if video else 'character'} {i:06d}",
                original_filename=f"file{i}.{'mp4' if video else 'png'}",
                file=f"assets/bench/{i}.{'mp4' if video else 'png'}",
                preview=f"assets/bench/{i}-preview.jpg",
                content_type="video/mp4" if video else "image/png",
                sha256=f"{i:064x}",
                size_bytes=100_000 + i,
                width=320,
                height=240,
                duration_seconds=2.0 + (i % 20) if video else None,
                fps=12.0 if video else None,
                uploaded_by=users[i % len(users)],
                use_count=i % 17,
            )
        )
    created = Asset.objects.bulk_create(rows, batch_size=2000)
    Asset.objects.filter(pk__in=[a.pk for a in created]).update(created_at=now)
    return [a.pk for a in created]


def add_jobs(users: list, images: list[int], videos: list[int], start: int, count: int) -> None:
    """One job through the ORM as a template row, then ``count`` copies of it in one
    INSERT ... SELECT generate_series (the ORM's bulk_create takes minutes for 100,000)."""
    from django.db import connection
    from django.utils import timezone

    from viggle_web.renders.models import RenderJob

    if count <= 0:
        return
    now = timezone.now()
    template = RenderJob.objects.create(
        owner=users[0],
        idempotency_key=f"bench-template-{start}",
        character_id=images[0],
        motion_id=videos[0],
        status="complete",
        upstream_job_id=f"job_bench_template_{start}",
        progress_pct=100,
        estimate_credits=5,
        estimate_seconds=5.0,
        output_seconds=5.0,
        output="renders/bench/output.mp4",
        poster="renders/bench/poster.jpg",
        output_size=1_000_000,
        completed_at=now,
    )
    varying = {
        "public_id": "'r_bench' || i",
        "idempotency_key": "'bench-' || i",
        "upstream_job_id": "'job_bench_' || i",
        "owner_id": "(%(users)s::bigint[])[1 + (i %% %(n_users)s)]",
        "character_id": "(%(images)s::bigint[])[1 + (i %% %(n_images)s)]",
        "motion_id": "(%(videos)s::bigint[])[1 + (i %% %(n_videos)s)]",
        "status": "CASE WHEN i %% 10 = 8 THEN 'failed' WHEN i %% 10 = 9 THEN 'cancelled' "
        "ELSE 'complete' END",
        "created_at": "%(now)s::timestamptz - (i * interval '5 minutes')",
        "updated_at": "%(now)s::timestamptz - (i * interval '5 minutes')",
    }
    columns = [f.column for f in RenderJob._meta.concrete_fields if f.column != "id"]
    select = ", ".join(varying.get(c, f't."{c}"') for c in columns)
    # Column names come from the model; values are parameters.
    names = ", ".join(f'"{c}"' for c in columns)
    sql = (
        f"INSERT INTO renders_renderjob ({names}) "  # noqa: S608
        f"SELECT {select} FROM renders_renderjob t, "
        "generate_series(%(first)s, %(last)s) AS i WHERE t.id = %(template)s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "users": [u.pk for u in users],
                "n_users": len(users),
                "images": images,
                "n_images": len(images),
                "videos": videos,
                "n_videos": len(videos),
                "now": now,
                "first": start,
                "last": start + count - 2,
                "template": template.pk,
            },
        )


def add_ledger(users: list, rows: int, offset: int) -> None:
    from django.db import connection
    from django.utils import timezone

    tz = timezone.get_current_timezone()
    start = datetime(YEAR, 1, 1, tzinfo=tz)
    sql = LEDGER_INSERT.replace("'bench:' || lpad(i::text", f"'bench{offset}:' || lpad(i::text")
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "users": [u.pk for u in users],
                "n_users": len(users),
                "rows": rows,
                "start": start,
                "span": datetime(YEAR + 1, 1, 1, tzinfo=tz) - start,
            },
        )


def analyze() -> None:
    from django.core.management import call_command
    from django.db import connection

    # The ledger rows went in with raw SQL, past the daily rollup the report reads: rebuild it
    # as bench/usage_report.py does (when this version of the app has one).
    try:
        call_command("usage_rebuild_rollup", stdout=open(os.devnull, "w"))  # noqa: SIM115
    except Exception as exc:  # an older app without the rollup command
        if "Unknown command" not in str(exc):
            raise

    with connection.cursor() as cursor:
        for table in ("assets_asset", "renders_renderjob", "usage_creditentry"):
            cursor.execute(f"VACUUM ANALYZE {table}")


PAGES = {
    "gallery (newest)": "/gallery/",
    "gallery (name sort)": "/gallery/?sort=name",
    "gallery (search)": "/gallery/?q=character+0000",
    "renders page 1": "/renders/",
    "renders page 40": "/renders/?page=40",
    "usage year report": f"/usage/?start={YEAR}-01-01&end={YEAR}-12-31&group=month",
}


def measure(client, runs: int) -> dict[str, tuple[float, float, int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    results = {}
    for label, url in PAGES.items():
        response = client.get(url)  # warm-up
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as capture:
                began = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - began)
            assert response.status_code == 200
            queries = len(capture.captured_queries)
            slowest = max(capture.captured_queries, key=lambda q: float(q["time"]))
        results[label] = (statistics.median(times), _pg.percentile(times, 95), queries, slowest)
    return results


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=25)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="then apply the proposed fixes in the scratch database and measure again",
    )
    args = parser.parse_args(argv)
    rows: list[dict] = []

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="viggle-bench-") as tmp:
        with _pg.scratch_database() as db_url:
            _pg.setup_django(db_url, media_root=tmp)
            from django.db import connections
            from django.test import Client
            from django.test.utils import setup_test_environment

            from viggle_web.accounts.models import User
            from viggle_web.viggle import client as viggle_client

            setup_test_environment()
            admin = User.objects.create_user(username="bench-admin", role="admin")
            users = [admin] + [
                User.objects.create_user(username=f"bench-{n:03d}") for n in range(args.members - 1)
            ]
            stub = types.SimpleNamespace(credits=lambda: types.SimpleNamespace(balance=12345.0))
            viggle_client.get_client = lambda: stub  # type: ignore[assignment]
            client = Client()
            client.force_login(admin)

            scales = [(0.01, "1%"), (1.0, "full")]
            done = {"assets": 0, "jobs": 0, "ledger": 0}
            all_results = {}
            for fraction, label in scales:
                t0 = time.perf_counter()
                want_assets = int(args.assets * fraction)
                add_assets(users, done["assets"], want_assets - done["assets"])
                done["assets"] = want_assets
                from viggle_web.assets.models import Asset

                images = list(Asset.objects.filter(kind="image").values_list("pk", flat=True))
                videos = list(Asset.objects.filter(kind="video").values_list("pk", flat=True))
                want_jobs = int(args.jobs * fraction)
                add_jobs(users, images, videos, done["jobs"], want_jobs - done["jobs"])
                done["jobs"] = want_jobs
                want_ledger = int(args.ledger * fraction)
                add_ledger(users, want_ledger - done["ledger"], done["ledger"])
                done["ledger"] = want_ledger
                analyze()
                print(
                    f"{label}: {want_assets:,} assets, {want_jobs:,} render jobs, "
                    f"{want_ledger:,} ledger rows (loaded in {time.perf_counter() - t0:.0f}s)",
                    flush=True,
                )
                all_results[label] = measure(client, args.runs)

            print(f"\nserver time over {args.runs} requests (target < 100 ms) and SQL queries")
            print(f"{'page':<22} {'p50':>7} {'p95':>7} {'queries':>8} {'at 1%':>6}  verdict")
            for page in PAGES:
                p50, p95, queries, _ = all_results["full"][page]
                small = all_results["1%"][page][2]
                verdict = "ok" if p95 < 0.1 and queries == small else "MISSES"
                print(
                    f"{page:<22} {1000 * p50:>5.0f}ms {1000 * p95:>5.0f}ms {queries:>8} "
                    f"{small:>6}  {verdict}"
                )
                rows.append(row(f"{page} p95", 1000 * p95, "ms", 100, "<"))
                rows.append(row(f"{page} SQL queries (as at 1 %)", queries, "", small, "="))
            from django.db import connection

            for page in PAGES:
                p50, p95, queries, slowest = all_results["full"][page]
                if p95 >= 0.1:
                    print(f"\n{page}: slowest query {float(slowest['time']) * 1000:.0f} ms:")
                    print("   " + slowest["sql"][:300])
                    with connection.cursor() as cursor:
                        cursor.execute("EXPLAIN (ANALYZE) " + slowest["sql"])
                        print("\n".join("   " + row[0] for row in cursor.fetchall()[:14]))
            if args.what_if:
                with connection.cursor() as cursor:
                    # renders page: the team-wide newest-first order has no index of its own
                    cursor.execute(
                        "CREATE INDEX render_newest ON renders_renderjob (created_at DESC, id DESC)"
                    )
                    # usage report: let the month grouping hash in memory instead of sorting
                    # 1M rows on disk (the report's own connection would SET LOCAL this)
                    cursor.execute(
                        f"ALTER DATABASE {connection.settings_dict['NAME']} SET work_mem = '64MB'"
                    )
                connections.close_all()
                fixed = measure(client, args.runs)
                print("\nwhat-if: index render_newest (created_at DESC, id DESC); work_mem 64MB")
                for page in PAGES:
                    p50, p95, queries, _ = fixed[page]
                    print(f"{page:<22} {1000 * p50:>5.0f}ms {1000 * p95:>5.0f}ms {queries:>8}")
            if args.profile:
                from pyinstrument import Profiler

                slowest = max(PAGES, key=lambda p: all_results["full"][p][1])
                profiler = Profiler()
                profiler.start()
                for _ in range(5):
                    client.get(PAGES[slowest])
                profiler.stop()
                print(f"\nprofile of {slowest} (5 requests):")
                print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])
            connections.close_all()
    print(f"(total {time.monotonic() - began:.0f}s; {os.cpu_count()} cores)")
    return rows


if __name__ == "__main__":
    main()
