"""Server time of the admin's year usage report over a large ledger.

    DATABASE_URL=postgres://... .venv/bin/python bench/usage_report.py [--rows 1000000] [--runs 9]

Needs a Postgres (the report is tuned for it). It never touches the database named in
DATABASE_URL: it creates its own scratch database on the same server (``viggle_bench_<pid>``),
migrates it, inserts the rows with one ``generate_series`` INSERT (which, like any raw SQL
insert, bypasses the daily rollup), fills the rollup with ``manage.py usage_rebuild_rollup`` and
says how long that took, renders the report through Django's test client (full stack: middleware,
selectors, templates) and drops the database again. Viggle's balance call is stubbed so that only
our server's time is measured. Prints p50/p95 of the server time, the number of SQL queries per
render, the cost of a booking (ledger insert + rollup upsert) and the plan of the report's
slowest queries.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
import types
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "viggle_web.settings_test")

import django  # noqa: E402

from bench import _pg  # noqa: E402
from bench._rows import row  # noqa: E402

INSERT = """
INSERT INTO usage_creditentry
    (user_id, kind, subject, job_id, credits, output_seconds, model, mode, created_at, note)
SELECT
    (%(users)s::bigint[])[1 + (i %% %(n_users)s)],
    k.kind,
    'bench:' || lpad(i::text, 9, '0'),  -- in index order: appends, not page splits
    NULL,
    CASE k.kind WHEN 'reserve' THEN 10 + (i %% 40) WHEN 'settle' THEN (i %% 5) - 2
                WHEN 'release' THEN -(10 + (i %% 40)) ELSE 1 END,
    CASE k.kind WHEN 'settle' THEN 5 + (i %% 50) ELSE 0 END,
    CASE WHEN k.kind = 'character' THEN '' WHEN i %% 3 = 0 THEN 'V3_Preview' ELSE 'V4_Preview' END,
    CASE WHEN k.kind <> 'character' AND i %% 4 = 0 THEN 'fast' ELSE 'normal' END,
    %(start)s::timestamptz + ((i - 1)::float8 / %(rows)s) * %(span)s::interval,
    ''
FROM generate_series(1, %(rows)s) AS i,
LATERAL (SELECT CASE WHEN i %% 10 < 5 THEN 'reserve' WHEN i %% 10 < 8 THEN 'settle'
                     WHEN i %% 10 < 9 THEN 'release' ELSE 'character' END AS kind) AS k
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=25)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile three renders (where the time goes)"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="time the report's old two grouped queries against the one query, interleaved",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the scratch database (viggle_bench_keep)"
    )
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
            # No server named: a throwaway one, as bin/test starts.
            os.environ["DATABASE_URL"] = stack.enter_context(_pg.postgres_server())
        return _main(args)


def _main(args: argparse.Namespace) -> list[dict]:
    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/usage_report.py needs DATABASE_URL pointing at a Postgres server.")
    name = "viggle_bench_keep" if args.keep else f"viggle_bench_{os.getpid()}"
    connection.settings_dict["TEST"]["NAME"] = name
    old_name = connection.settings_dict["NAME"]
    t0 = time.perf_counter()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return run(args, t0)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: argparse.Namespace, t0: float) -> list[dict]:
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    from viggle_web.accounts.models import User
    from viggle_web.usage import selectors, services
    from viggle_web.usage.models import CreditEntry, UsageDay
    from viggle_web.viggle import client as viggle_client

    print(
        f"scratch database {connection.settings_dict['NAME']} migrated in "
        f"{time.perf_counter() - t0:.1f}s"
    )
    setup_test_environment()  # the test client records templates' contexts
    admin = User.objects.create_user(username="bench-admin", role="admin")
    users = [admin.pk] + [
        User.objects.create_user(username=f"bench-{n:03d}").pk for n in range(args.members - 1)
    ]
    tz = timezone.get_current_timezone()
    start = datetime(args.year, 1, 1, tzinfo=tz)
    end = datetime(args.year + 1, 1, 1, tzinfo=tz)
    t1 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            {
                "users": users,
                "n_users": len(users),
                "rows": args.rows,
                "start": start,
                "span": end - start,
            },
        )
        cursor.execute("VACUUM ANALYZE usage_creditentry")
    count = CreditEntry.objects.count()
    print(
        f"inserted {count:,} ledger rows for {len(users)} members in "
        f"{time.perf_counter() - t1:.1f}s (incl. VACUUM ANALYZE)"
    )
    t2 = time.perf_counter()
    out = io.StringIO()
    call_command("usage_rebuild_rollup", stdout=out)
    rebuild = time.perf_counter() - t2
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE usage_usageday")
    print(
        f"manage.py usage_rebuild_rollup: {UsageDay.objects.count():,} rollup rows from "
        f"{count:,} ledger rows in {rebuild:.1f}s ({out.getvalue().strip()})"
    )

    # Only our server's time: Viggle's balance answer is stubbed.
    stub = types.SimpleNamespace(credits=lambda: types.SimpleNamespace(balance=12345.0))
    viggle_client.get_client = lambda: stub  # type: ignore[assignment]

    client = Client()
    client.force_login(admin)
    url = f"/usage/?start={args.year}-01-01&end={args.year}-12-31&group=month"
    response = client.get(url)  # warm-up: connection, templates, plans
    assert response.status_code == 200, response.status_code
    report = response.context["report"]
    ledger_sum = (
        CreditEntry.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .aggregate(s=Sum("credits"))["s"]
    )
    assert report.total.credits == ledger_sum
    assert selectors.credits_used(user=None, start=start, end=end) == ledger_sum

    times: list[float] = []
    for _ in range(args.runs):
        with CaptureQueriesContext(connection) as capture:
            began = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - began)
        queries = list(capture.captured_queries)  # read now: the next request resets the log
        assert response.status_code == 200
    csv_began = time.perf_counter()
    csv_response = client.get(url.replace("/usage/?", "/usage/usage.csv?"))
    csv_time = time.perf_counter() - csv_began
    assert csv_response.status_code == 200

    print(f"admin year report, {args.runs} renders over {count:,} rows:")
    print(
        f"  server time p50 {1000 * statistics.median(times):.0f} ms, "
        f"p95 {1000 * percentile(times, 95):.0f} ms, "
        f"min {1000 * min(times):.0f} ms, max {1000 * max(times):.0f} ms"
    )
    print(f"  SQL queries per render: {len(queries)}")
    print(f"  CSV export: {1000 * csv_time:.0f} ms")
    print(
        f"  report total {report.total.credits:,} credits, {len(report.by_member)} members, "
        f"{len(report.by_model)} model/mode rows"
    )

    # What the rollup costs a write: a booking is one ledger insert plus one upsert.
    member = User.objects.get(pk=users[1])
    booking_times = []
    for n in range(200):
        began = time.perf_counter()
        services.credit_charge_character(user=member, subject=f"bench-character:{n}")
        booking_times.append(time.perf_counter() - began)
    print(
        f"  a booking (ledger insert + rollup upsert, own transaction): p50 "
        f"{1000 * statistics.median(booking_times):.1f} ms, "
        f"p95 {1000 * percentile(booking_times, 95):.1f} ms"
    )
    if not args.no_explain:
        slowest = sorted(queries, key=lambda q: -float(q["time"]))[:3]
        for query in slowest:
            print(f"\n-- {float(query['time']) * 1000:.0f} ms: {query['sql'][:160]}...")
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                print("\n".join("   " + line[0] for line in cursor.fetchall()))
    if args.compare:
        # The report's selectors alone, interleaved in one run: the two grouped queries the
        # report made before (by member/model/mode, then by day) against the one GROUPING SETS
        # query of usage_report now. Same rows, same connection, same load.
        from datetime import date

        first, last = date(args.year, 1, 1), date(args.year, 12, 31)
        two: list[float] = []
        one: list[float] = []
        for _ in range(args.runs):
            began = time.perf_counter()
            selectors.usage_by_member_and_model(start=first, end=last)
            selectors.usage_series(start=first, end=last, group="month")
            two.append(time.perf_counter() - began)
            began = time.perf_counter()
            selectors.usage_report(start=first, end=last, group="month")
            one.append(time.perf_counter() - began)
        print(
            f"  selectors alone, {args.runs} interleaved runs: two grouped queries p50 "
            f"{1000 * statistics.median(two):.0f} ms / p95 {1000 * percentile(two, 95):.0f} ms; "
            f"one GROUPING SETS query p50 {1000 * statistics.median(one):.0f} ms / p95 "
            f"{1000 * percentile(one, 95):.0f} ms"
        )
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3):
            client.get(url)
        profiler.disable()
        print("\nprofile of 3 renders (cumulative, top 25):")
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)
    p95 = 1000 * percentile(times, 95)
    return [
        row(f"usage report p95, {count / 1e6:g}M ledger rows", p95, "ms", 100, "<"),
        row("usage report SQL queries per render", len(queries), "", 10, "<="),
    ]


if __name__ == "__main__":
    main()
