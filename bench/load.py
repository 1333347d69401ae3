"""Load: many members browsing and uploading at once while SSE streams stay open and renders
are in flight, against the whole stack on loopback.

    .venv/bin/python bench/load.py                  # defaults below, about 2 minutes
    .venv/bin/python bench/load.py --members 40 --streams 200 --jobs 500 --seconds 60

Starts its own throwaway Postgres 15 (or uses DATABASE_URL's server; either way in a scratch
database ``viggle_bench_<pid>`` that it drops), the app under uvicorn (ASGI, one process,
production-like settings: bench/bench_settings.py), one ``manage.py qcluster`` (which runs the
poll loop), and the simulator (``manage.py viggle_simulator --port N``) as Viggle.

Then, for ``--seconds``:
  * ``--jobs`` renders are in flight (written straight into the simulator's and our tables, as
    bench/poller.py does): ``--streams`` of them finish upstream at staggered times during the
    run, the rest stay processing and are polled all along;
  * ``--streams`` SSE streams stay open (one per finishing job, as a job page holds), each with
    its own member's session cookie; every event's delay is measured against the SSE id (the
    job's updated_at, i.e. when the worker saved the change);
  * ``--members`` members browse (home, gallery, an asset, its preview, renders, a render, the
    render form, usage) and upload small unique PNGs through gallery:upload (XHR, CSRF token),
    with a short think time, async httpx, session cookies made with Django's session store.

Prints request p50/p95/p99 per kind and overall, errors (and 5xx separately; the target is
zero), stream event delays, and the peak memory (VmHWM) of the web process and of the
worker's processes. Bounded: at most ``--max-requests`` browsing requests and ``--seconds`` of
load; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402
from bench._rows import row  # noqa: E402

PAGES = [
    ("home", "/", 1),
    ("gallery", "/gallery/", 3),
    ("asset", "/gallery/{asset}/", 2),
    ("preview", "/gallery/{asset}/preview/", 2),
    ("renders", "/renders/", 3),
    ("render", "/renders/{job}/", 3),
    ("render form", "/renders/new/", 1),
    ("usage", "/usage/", 1),
]


def idle_share(seconds: float = 1.0) -> float:
    """The machine's idle share over ``seconds`` (others' test runs may share these cores)."""
    with open("/proc/stat") as fh:
        a = [int(x) for x in fh.readline().split()[1:]]
    time.sleep(seconds)
    with open("/proc/stat") as fh:
        b = [int(x) for x in fh.readline().split()[1:]]
    return (b[3] + b[4] - a[3] - a[4]) / max(1, sum(b) - sum(a))


def group_peak_kb(pgid: int) -> tuple[int, int]:
    """(largest VmHWM of one process, sum of VmHWM) over the processes of a process group."""
    peaks = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            peaks.append(_pg.proc_status(int(entry)).get("VmHWM", 0))
        except (OSError, ValueError, IndexError):
            continue
    return (max(peaks) if peaks else 0), sum(peaks)


def sockets_to_port(port: int, groups: dict[str, int]) -> dict[str, int]:
    """How many established TCP connections to 127.0.0.1:``port`` each process group holds."""
    inodes: set[str] = set()
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            fields = line.split()
            remote, state, inode = fields[2], fields[3], fields[9]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                inodes.add(inode)
    counts = dict.fromkeys(groups, 0)
    by_pgid = {pgid: name for name, pgid in groups.items()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                pgid = int(fh.read().rsplit(")", 1)[1].split()[2])
            if pgid not in by_pgid:
                continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    counts[by_pgid[pgid]] += 1
        except (OSError, ValueError, IndexError):
            continue
    return counts


class Peaks:
    """Samples VmHWM while the run lasts (a process that exits takes its peak with it)."""

    def __init__(self, procs: dict[str, int]) -> None:
        self.procs = procs
        self.seen: dict[str, tuple[int, int]] = {name: (0, 0) for name in procs}

    def sample_db(self, db_url: str) -> None:
        """Open connections to the database: in total (pg_stat_activity) and per process group
        (the sockets each process holds to the server's port, from /proc)."""
        import psycopg

        port = urlsplit(db_url).port or 5432
        by_group = getattr(self, "db_by_group", {})
        held_now = sockets_to_port(port, self.procs)
        for name, held in held_now.items():
            by_group[name] = max(by_group.get(name, 0), held)
        self.db_by_group = by_group
        self.db_connections = max(getattr(self, "db_connections", 0), sum(held_now.values()))
        # The server's own count too (fails when the server is out of connections).
        with psycopg.connect(db_url, autocommit=True, connect_timeout=2) as conn:
            count = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            ).fetchone()[0]
        self.db_connections = max(self.db_connections, count - 1)

    def sample(self) -> None:
        for name, pgid in self.procs.items():
            one, total = group_peak_kb(pgid)
            old = self.seen[name]
            self.seen[name] = (max(old[0], one), max(old[1], total))


def png_bytes(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.new("RGB", (96, 96), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        box = (
            sorted(rng.randrange(96) for _ in range(2)),
            sorted(rng.randrange(96) for _ in range(2)),
        )
        draw.rectangle(
            (box[0][0], box[1][0], box[0][1], box[1][1]),
            fill=tuple(rng.randrange(256) for _ in range(3)),
        )
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def error_summary(log: str) -> list[tuple[str, int]]:
    """The exception lines of a log's tracebacks, counted (the cause of any 5xx)."""
    counts: dict[str, int] = defaultdict(int)
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            # The exception line is the first unindented line after the traceback.
            for follow in lines[i + 1 :]:
                if follow and not follow.startswith((" ", "\t", "Traceback", "During", "The ")):
                    counts[follow.strip()] += 1
                    break
    return sorted(counts.items(), key=lambda item: -item[1])[:8]


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.server_errors = 0
        self.samples: list[str] = []
        self.requests = 0

    def record(self, kind: str, seconds: float, status: int | None, note: str = "") -> None:
        self.requests += 1
        self.latency[kind].append(seconds)
        if status is None or status >= 400:
            self.errors[kind] += 1
            if len(self.samples) < 8:
                self.samples.append(f"{kind}: {status} {note[:200]}")
        if status is not None and status >= 500:
            self.server_errors += 1


async def member_loop(
    base: str, cookie: str, ids: dict, stats: Stats, stop: float, budget: list[int], seed: int
) -> None:
    import httpx

    rng = random.Random(seed)
    csrf = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret, cookie and header
    weights = [w for _, _, w in PAGES]
    limits = httpx.Limits(max_connections=2)
    async with httpx.AsyncClient(
        base_url=base,
        cookies={"sessionid": cookie, "csrftoken": csrf},
        timeout=30,
        limits=limits,
    ) as client:
        while time.monotonic() < stop and budget[0] > 0:
            budget[0] -= 1
            if rng.random() < 0.08:
                kind = "upload"
                data = png_bytes(rng.randrange(10**9))
                began = time.monotonic()
                try:
                    response = await client.post(
                        "/gallery/upload/",
                        files={"file": (f"m{seed}-{budget[0]}.png", data, "image/png")},
                        headers={"X-Requested-With": "XMLHttpRequest", "X-CSRFToken": csrf},
                    )
                    status, note = response.status_code, response.text
                except httpx.HTTPError as exc:
                    status, note = None, repr(exc)
            else:
                kind, path, _ = rng.choices(PAGES, weights=weights)[0]
                path = path.format(asset=rng.choice(ids["assets"]), job=rng.choice(ids["jobs"]))
                began = time.monotonic()
                try:
                    response = await client.get(path)
                    await response.aread()
                    status, note = response.status_code, path
                except httpx.HTTPError as exc:
                    status, note = None, f"{path} {exc!r}"
            stats.record(kind, time.monotonic() - began, status, note)
            await asyncio.sleep(rng.uniform(0.1, 0.6))  # think time


async def stream_one(base: str, cookie: str, public_id: str, stop: float, out: dict) -> None:
    import httpx
    from django.utils.dateparse import parse_datetime

    url = f"{base}/renders/stream/?jobs={public_id}&view=row"
    delays = out.setdefault("delays", [])
    async with httpx.AsyncClient(cookies={"sessionid": cookie}, timeout=None) as client:
        try:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    out.setdefault("errors", []).append(response.status_code)
                    return
                out["open"] = out.get("open", 0) + 1
                opened = time.time()
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        changed = parse_datetime(line[4:])
                        out["events"] = out.get("events", 0) + 1
                        # The first event replays the state the page was opened with; only
                        # changes made while the stream is open measure the live path.
                        if changed is not None and changed.timestamp() > opened:
                            delays.append(time.time() - changed.timestamp())
                    if time.monotonic() > stop:
                        return
        except httpx.HTTPError as exc:
            out.setdefault("errors", []).append(repr(exc)[:80])
        except asyncio.CancelledError:
            return


async def run_load(args, base, cookies, ids, watched, peaks, db_url):
    stats = Stats()
    streams: dict = {}
    stop = time.monotonic() + args.seconds
    budget = [args.max_requests]
    stream_tasks = [
        asyncio.create_task(stream_one(base, cookies[i % len(cookies)], pid, stop, streams))
        for i, pid in enumerate(watched)
    ]
    await asyncio.sleep(1.0)  # streams open first, as pages already showing jobs
    member_tasks = [
        asyncio.create_task(member_loop(base, cookies[i], ids, stats, stop, budget, seed=i))
        for i in range(args.members)
    ]

    async def sampler() -> None:
        while time.monotonic() < stop + 1:
            peaks.sample()
            try:
                await asyncio.to_thread(peaks.sample_db, db_url)
            except Exception as exc:  # noqa: BLE001 - the server may be out of connections
                peaks.sample_errors = getattr(peaks, "sample_errors", 0) + 1
                del exc
            await asyncio.sleep(0.5)

    sample_task = asyncio.create_task(sampler())
    await asyncio.wait(member_tasks, timeout=args.seconds + 35)
    await asyncio.wait(stream_tasks, timeout=max(0.0, stop - time.monotonic()) + 5)
    for task in [*member_tasks, *stream_tasks, sample_task]:
        task.cancel()
    return stats, streams


def fmt(values: list[float]) -> str:
    if not values:
        return "no data"
    p95, p99 = _pg.percentile(values, 95), _pg.percentile(values, 99)
    return (
        f"p50 {1000 * statistics.median(values):6.0f} ms  p95 {1000 * p95:6.0f} ms  "
        f"p99 {1000 * p99:6.0f} ms"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        help="CONN_MAX_AGE for the web and worker (default: the app's own, 60 s)",
    )
    args = parser.parse_args(argv)
    if args.streams > args.jobs:
        sys.exit("--streams must be at most --jobs (one stream per finishing job)")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="viggle-load-") as tmp:
        media_root, log_dir = f"{tmp}/media", f"{tmp}/logs"
        os.makedirs(media_root)
        os.makedirs(log_dir)
        with _pg.scratch_database() as db_url:
            _pg.setup_django(db_url, media_root=media_root)
            from django.core.files.uploadedfile import SimpleUploadedFile

            from bench.poller import make_inputs, make_jobs
            from viggle_web.accounts.models import User
            from viggle_web.assets.services import asset_create

            members = [
                User.objects.create_user(username=f"member{i:03d}", password="x", role="member")
                for i in range(args.members)
            ]
            admin = User.objects.create_user(username="load-admin", password="x", role="admin")
            cookies = [_pg.session_cookie(m) for m in members]
            assets = [
                asset_create(
                    user=members[i % len(members)],
                    upload=SimpleUploadedFile(f"seed{i}.png", png_bytes(10**9 + i), "image/png"),
                ).asset.pk
                for i in range(20)
            ]
            inputs = make_inputs(media_root)
            # Watched jobs finish upstream spread over the run; the rest stay processing.
            spread = max(5.0, args.seconds - 10.0)
            finish_in = [5.0 + spread * i / max(1, args.streams - 1) for i in range(args.streams)]
            watched_jobs = make_jobs(admin, "w", args.streams, finish_in=finish_in, inputs=inputs)
            background = make_jobs(
                admin, "b", args.jobs - args.streams, finish_in=None, inputs=inputs
            )
            watched = [j.public_id for j in watched_jobs]
            ids = {"assets": assets, "jobs": watched + [j.public_id for j in background[:50]]}

            sim, sim_base = _pg.start_simulator(db_url, media_root, log_dir, speed=1.0)
            env = _pg.child_env(
                db_url, media_root, VIGGLE_BASE_URL=sim_base, Q_WORKERS="2", POLLER_SLOTS="1"
            )
            if args.conn_max_age is not None:
                # bench/bench_settings.py with another CONN_MAX_AGE, for the web and the worker.
                Path(tmp, "load_settings.py").write_text(
                    "from bench.bench_settings import *  # noqa\n"
                    f'DATABASES["default"]["CONN_MAX_AGE"] = {args.conn_max_age}  # noqa\n'
                )
                env["PYTHONPATH"] = f"{env['PYTHONPATH']}{os.pathsep}{tmp}"
                env["DJANGO_SETTINGS_MODULE"] = "load_settings"
            web, base = _pg.start_uvicorn(env, log_dir)
            worker = _pg.Proc("qcluster", [_pg.PYTHON, "manage.py", "qcluster"], env, log_dir)
            try:
                from django_q.tasks import async_task

                async_task("viggle_web.renders.tasks.poll_loop")  # as job_send would
                idle = idle_share()
                peaks = Peaks(
                    {
                        "web (uvicorn)": web.pid,
                        "worker (qcluster)": worker.pid,
                        "simulator": sim.pid,
                    }
                )
                print(
                    f"load: {args.members} members browsing/uploading, {args.streams} SSE "
                    f"streams, {args.jobs} jobs in flight, {args.seconds:.0f}s; machine "
                    f"{100 * idle:.0f}% idle before; {os.cpu_count()} cores; CONN_MAX_AGE "
                    f"{'app default' if args.conn_max_age is None else args.conn_max_age}",
                    flush=True,
                )
                stats, streams = asyncio.run(
                    run_load(args, base, cookies, ids, watched, peaks, db_url)
                )
                peaks.sample()
            finally:
                for proc in (worker, web, sim):
                    proc.stop()
                    summary = error_summary(proc.tail(2_000_000))
                    if summary:
                        print(f"--- {proc.name}: errors in its log (count, last line) ---")
                        for line, count in summary:
                            print(f"  {count:5d}  {line[:160]}")
                from django.db import connections

                connections.close_all()

            from viggle_web.renders.models import RenderJob

            done = RenderJob.objects.filter(public_id__in=watched, status="complete").count()
            active = RenderJob.objects.filter(status__in=RenderJob.ACTIVE).count()
            connections.close_all()

    everything = [v for values in stats.latency.values() for v in values]
    errors = sum(stats.errors.values())
    print(
        f"\nrequests: {stats.requests} in {args.seconds:.0f}s "
        f"({stats.requests / args.seconds:.0f}/s)"
    )
    print(f"  {'all':<12} {fmt(everything)}")
    for kind in sorted(stats.latency):
        print(f"  {kind:<12} {fmt(stats.latency[kind])}  n={len(stats.latency[kind])}")
    print(f"errors: {errors} (5xx: {stats.server_errors})")
    for sample in stats.samples:
        print(f"  {sample}")
    print(
        f"streams: {streams.get('open', 0)}/{args.streams} open, {streams.get('events', 0)} "
        f"events, errors {len(streams.get('errors', []))} {streams.get('errors', [])[:3]}"
    )
    delays = streams.get("delays", [])
    print(f"  event delay (arrival - the worker's save), n={len(delays)}: {fmt(delays)}")
    print(
        f"jobs: {done}/{args.streams} watched jobs complete, {active} still active "
        f"(of {args.jobs}; the rest are long-running by design)"
    )
    for name, (one, total) in peaks.seen.items():
        print(f"peak memory {name}: largest process {one / 1024:.0f} MB, all {total / 1024:.0f} MB")
    print(
        f"peak open connections to the database (web + worker + simulator): "
        f"{getattr(peaks, 'db_connections', 0)} (server max_connections 300); per process "
        f"group: {getattr(peaks, 'db_by_group', {})}"
    )
    print(f"(total {time.monotonic() - began:.0f}s, run at {datetime.now():%Y-%m-%d %H:%M})")
    rows = []
    if delays:
        p95 = 1000 * _pg.percentile(delays, 95)
        rows.append(row("stream event delay p95 under load", p95, "ms", 250, "<"))
    rows.append(row("requests answered 5xx under load", stats.server_errors, "", 0, "="))
    return rows


if __name__ == "__main__":
    main()
