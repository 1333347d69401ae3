"""Polling at scale (issue 18): one worker process keeps 2,000 active renders polled, and a
render's end reaches the browser soon after it happens upstream.

    .venv/bin/python bench/poller.py                      # 2,000 jobs, about 5 minutes
    .venv/bin/python bench/poller.py --jobs 500 --window 20 --watched 10

1. A throwaway Postgres 15 (bench/_pg.py, or DATABASE_URL's server): the app's database and
   the simulator's own, as in the tests.
2. The simulator (`manage.py viggle_simulator`, its own process) and ONE worker
   (`manage.py qcluster`, production settings: its main process runs the poller, django-q2's
   worker processes run the sends). uvicorn serves the SSE streams (Postgres LISTEN/NOTIFY).
3. ``--jobs`` renders made the way production makes them: a character image and a motion video
   through assets.services.asset_create, each render through renders.services.job_submit, sent
   to the simulator by the worker's own job_send task. The simulator runs slowly (``--speed``)
   so they all stay active for the whole run.
4. After a warm-up, a measuring window: every status GET is in the simulator's calls log with its
   arrival time, so every gap between two polls of a job is known exactly (no sampling), and
   the worker's CPU (its main process: the poller) is read from /proc before and after.
5. In the window, ``--watched`` more renders (normal speed, staggered lengths) end upstream; a
   browser-like SSE stream watches each: event arrival minus the upstream end (``finish_at`` in
   the simulator's table).

Prints each figure with its limit and ratio; ``main()`` also returns them as rows
{figure, value, limit, ratio, target, met} for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402

GAP_LIMIT = 5.0  # every job polled at least every 5 s
MIN_GAP = 3.0  # never more often than every 3 s (Viggle's docs)
CPU_LIMIT_MS = 0.25  # app-side CPU per poll
DELAY_LIMIT = 1.0  # median upstream end -> browser event


# --- the simulator's own database ---------------------------------------------------------------


def start_simulator(sim_url: str, media_root: str, log_dir: str, speed: float):
    import subprocess

    env = _pg.simulator_env(sim_url, media_root, speed)
    subprocess.run(
        [_pg.PYTHON, "manage.py", "migrate", "--no-input", "-v0"], cwd=_pg.ROOT, env=env, check=True
    )
    port = _pg.free_port()
    proc = _pg.Proc(
        "simulator",
        [_pg.PYTHON, "manage.py", "viggle_simulator", "--port", str(port)],
        env,
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"
    _pg.wait_http(f"{base}/control", proc=proc)
    return proc, base


def sim_query(sim_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(sim_url) as conn:
        return conn.execute(sql, params).fetchall()


def sim_speed(base: str, speed: float) -> None:
    import httpx

    httpx.post(f"{base}/control", json={"action": "set", "speed": speed}, timeout=30)


# --- renders made as production makes them ------------------------------------------------------


def make_assets(owner, tmp: str, motions: list[float]):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.media_factory import make_mp4, make_png
    from viggle_web.assets.services import asset_create

    def upload(path: Path):
        return asset_create(
            user=owner, upload=SimpleUploadedFile(path.name, path.read_bytes())
        ).asset

    character = upload(make_png(Path(tmp) / "hero.png", size=(128, 128)))
    videos = [
        upload(make_mp4(Path(tmp) / f"motion{i}.mp4", seconds=s, size=(160, 120), fps=8))
        for i, s in enumerate(motions)
    ]
    return character, videos


def preprocess(owner, assets: list) -> None:
    """A Viggle character and scenes for the assets, as the gallery's button makes them (the
    worker's send and its poller's claim-and-poll, run here): renders then go by id."""
    from viggle_web.assets.models import ViggleResource
    from viggle_web.assets.services import resource_poll_due, resource_request, resource_submit

    for asset in assets:
        resource = resource_request(asset=asset, user=owner, model="V4_Preview")
        resource_submit(resource_id=resource.pk)  # the worker's task
    deadline = time.monotonic() + 120
    while ViggleResource.objects.exclude(status="ready").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"preprocessing not ready: {list(ViggleResource.objects.values())}")
        resource_poll_due(owner="bench")  # what the poller does: claim, then poll each
        time.sleep(0.5)


def submit(owner, character, motion, key: str):
    from viggle_web.renders import services

    return services.job_submit(
        owner=owner,
        idempotency_key=key,
        request=services.RenderRequest(character=character, motion=motion),
    )


def make_and_send(owner, character, motion, count: int, threads: int = 8) -> list[int]:
    """``count`` renders, each submitted (job_submit) and sent (job_send, what the worker's task
    runs) in one of a few threads: through django-q2's database queue 2,000 sends take minutes
    of the bench (the queued tasks then find the jobs sent and do nothing)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from viggle_web.renders import services

    def one(i: int) -> int:
        try:
            job = submit(owner, character, motion, f"bg-{i:05d}")
            services.job_send(job_id=job.pk, owner="bench-sender")
            return job.pk
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def wait_sent(ids: list[int], timeout: float) -> None:
    from viggle_web.renders.models import RenderJob

    deadline = time.monotonic() + timeout
    while RenderJob.objects.filter(pk__in=ids, status="pending").exists():
        if time.monotonic() > deadline:
            left = RenderJob.objects.filter(pk__in=ids, status="pending").count()
            raise RuntimeError(f"{left} renders still not sent after {timeout:.0f}s")
        time.sleep(1.0)


# --- what the calls log says --------------------------------------------------------------------


def poll_times(sim_url: str, upstream: set[str], until: datetime) -> dict[str, list[datetime]]:
    times: dict[str, list[datetime]] = defaultdict(list)
    rows = sim_query(
        sim_url,
        "SELECT path, at FROM simulator_simcall WHERE method = 'GET' "
        "AND path LIKE '/api/render/%%' AND at <= %s ORDER BY at",
        (until,),
    )
    for path, at in rows:
        job = path.rsplit("/", 1)[-1]
        if job in upstream:
            times[job].append(at)
    return times


def gaps(times: dict[str, list[datetime]], upstream: list[str], start, end) -> dict:
    worst, smallest, in_window = [], [], 0
    for job in upstream:
        marks = sorted(times.get(job, []))
        before = [t for t in marks if t < start]
        inside = [t for t in marks if t >= start]
        in_window += len(inside)
        edges = ([before[-1]] if before else [start]) + inside + [end]
        spans = [(b - a).total_seconds() for a, b in zip(edges, edges[1:], strict=False)]
        worst.append(max(spans))
        closed = [(b - a).total_seconds() for a, b in zip(marks, marks[1:], strict=False)]
        if closed:
            smallest.append(min(closed))
    return {
        "kept": sum(1 for w in worst if w <= GAP_LIMIT) / len(upstream),
        "max_gap": max(worst),
        "gap_p95": _pg.percentile(worst, 95),
        "min_gap": min(smallest) if smallest else float("nan"),
        "polls": in_window,
    }


# --- CPU by thread (the worker names its threads for the OS: poller, viggle-status, ...) ---------


def thread_cpu(pid: int) -> dict[str, tuple[str, float, float]]:
    """Each thread's name, CPU seconds so far and the kernel's part of them, by thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, tuple[str, float]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / ticks, int(fields[12]) / ticks)
    return out


def cpu_by_thread(before: dict, after: dict) -> dict[str, tuple[float, float]]:
    """CPU seconds spent between two thread_cpu() readings, and the kernel's part of them, by
    thread name."""
    groups: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for tid, (name, cpu, system) in after.items():
        _, cpu0, system0 = before.get(tid, (name, 0.0, 0.0))
        groups[name][0] += cpu - cpu0
        groups[name][1] += system - system0
    return {name: (cpu, system) for name, (cpu, system) in groups.items()}


# --- profile ------------------------------------------------------------------------------------


def profile_start(pid: int, out: str):
    """py-spy (pip install py-spy) recording the worker's threads, idle time left out."""
    import shutil
    import subprocess

    exe = shutil.which("py-spy") or str(Path(_pg.PYTHON).parent / "py-spy")
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--gil", "--format", "raw", "--rate", "250", "-o", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    return proc


def profile_report(proc, out: str, who: str = "worker", top: int = 15) -> str:
    import signal

    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    own: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    total = 0
    with open(out) as fh:
        for line in fh:
            stack, _, count = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            n = int(count)
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    lines = [f"py-spy: {total} samples of the {who}'s threads holding the GIL; self time:"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / max(1, total):5.1f}%  {frame[:120]}")
    lines.append("inclusive (the project's code, and the libraries it calls):")
    skip = ("threading.py", "thread.py", "<frozen", "runpy.py", "manage.py")
    shown = 0
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1]):
        if any(part in frame for part in skip) or 100 * n < total:
            continue
        lines.append(f"  {100 * n / max(1, total):5.1f}%  {frame[:120]}")
        shown += 1
        if shown >= 3 * top:
            break
    return "\n".join(lines)


# --- browser-like SSE streams -------------------------------------------------------------------


async def watch(base: str, cookie: str, public_id: str, deadline: float, out: dict) -> None:
    import httpx

    url = f"{base}/renders/stream/?jobs={public_id}&view=detail"
    events: list[tuple[float, str]] = []
    out[public_id] = events
    async with httpx.AsyncClient(cookies={"sessionid": cookie}, timeout=None) as client:
        try:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    out.setdefault("_errors", []).append(response.status_code)
                    return
                status = ""
                async for line in response.aiter_lines():
                    if "data-status=" in line:
                        status = line.split('data-status="', 1)[1].split('"', 1)[0]
                    elif line == "" and status:
                        events.append((time.time(), status))
                        if status in ("complete", "failed"):
                            return
                        status = ""
                    if time.monotonic() > deadline:
                        return
        except (httpx.HTTPError, asyncio.CancelledError):
            return


# --- the run ------------------------------------------------------------------------------------


def row(figure: str, value: float, limit: float | None, *, higher_is_better: bool = False) -> dict:
    if limit is None:
        return {
            "figure": figure,
            "value": value,
            "limit": None,
            "ratio": None,
            "target": "report",
            "met": None,
        }
    ratio = value / limit if limit else float("nan")
    met = ratio >= 1.0 if higher_is_better else ratio <= 1.0
    return {
        "figure": figure,
        "value": value,
        "limit": limit,
        "ratio": ratio,
        "target": ">= 1" if higher_is_better else "<= 1",
        "met": met,
    }


def run(args) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="viggle-bench-") as tmp:
        media_root, log_dir = f"{tmp}/media", f"{tmp}/logs"
        os.makedirs(media_root)
        os.makedirs(log_dir)
        with _pg.scratch_database() as db_url:
            _pg.setup_django(db_url, media_root=media_root)
            from tests.viggle_fixtures import _simulator_database

            # The simulator's own database beside ours, as the tests make it.
            sim_url, drop_sim = _simulator_database(Path(tmp))
            from django.utils import timezone

            from viggle_web.accounts.models import User
            from viggle_web.renders.models import RenderJob

            owner = User.objects.create_user(username="bench-owner", password="x", role="admin")
            sim, sim_base = start_simulator(sim_url, media_root, log_dir, args.speed)
            from django.conf import settings

            settings.VIGGLE_BASE_URL = sim_base  # this process sends the renders
            env = _pg.child_env(
                db_url,
                media_root,
                VIGGLE_BASE_URL=sim_base,
                POLLER_CONCURRENCY=str(args.concurrency),
                Q_WORKERS=str(args.q_workers),
                Q_POLL="0.1",
                LOG_LEVEL=args.worker_log_level,
            )
            worker = web = None
            try:
                web, web_base = _pg.start_uvicorn(env, log_dir)
                cookie = _pg.session_cookie(owner)
                character, motions = make_assets(owner, tmp, [1.0, 2.0, 3.0])
                sim_speed(sim_base, 20.0)
                preprocess(owner, [character, *motions])
                sim_speed(sim_base, args.speed)
                print(f"making {args.jobs} renders (job_submit, job_send)...", flush=True)
                began = time.monotonic()
                ids = make_and_send(owner, character, motions[0], args.jobs)
                wait_sent(ids, timeout=60)
                # Their queued send tasks would only find them sent, but the worker's django-q
                # cluster would work through thousands of them before the watched renders' own.
                from django_q.models import OrmQ

                OrmQ.objects.all().delete()
                print(f"  made and sent in {time.monotonic() - began:.0f}s", flush=True)
                # The worker starts now: making 2,000 renders while it polls them would take the
                # simulator (one Python process) many minutes.
                worker = _pg.Proc("worker", [_pg.PYTHON, "manage.py", "qcluster"], env, log_dir)
                upstream = dict(
                    RenderJob.objects.filter(pk__in=ids).values_list("upstream_job_id", "pk")
                )
                time.sleep(args.warmup)
                start = timezone.now()
                load0 = os.getloadavg()[0]
                threads0 = thread_cpu(worker.pid)
                cpu0 = (
                    _pg.cpu_seconds(worker.pid),
                    _pg.cpu_seconds(sim.pid),
                    _pg.postgres_cpu_seconds(),
                )
                t0 = time.monotonic()
                spies = []
                if args.profile in ("worker", "both"):
                    spies.append(("worker", profile_start(worker.pid, f"{tmp}/spy-w.txt")))
                if args.profile in ("simulator", "both"):
                    spies.append(("simulator", profile_start(sim.pid, f"{tmp}/spy-s.txt")))
                # The watched renders end upstream during the window, at staggered times.
                sim_speed(sim_base, args.watched_speed)
                watched, results = [], {}
                parts: dict[str, list[float]] = defaultdict(list)

                async def stream_all() -> None:
                    tasks = []
                    deadline = time.monotonic() + args.window
                    for i in range(args.watched):
                        job = await asyncio.to_thread(
                            submit, owner, character, motions[i % len(motions)], f"w-{i:04d}"
                        )
                        watched.append(job)
                        tasks.append(
                            asyncio.create_task(
                                watch(web_base, cookie, job.public_id, deadline, results)
                            )
                        )
                        await asyncio.sleep(args.stagger)
                    await asyncio.wait(tasks, timeout=max(1.0, deadline - time.monotonic()))
                    for task in tasks:
                        task.cancel()

                asyncio.run(stream_all())
                rest = args.window - (time.monotonic() - t0)
                if rest > 0:
                    time.sleep(rest)
                end = timezone.now()
                for who, spy in spies:
                    print(profile_report(spy, f"{tmp}/spy-{who[0]}.txt", who))
                threads = cpu_by_thread(threads0, thread_cpu(worker.pid))
                load1 = os.getloadavg()[0]
                cpu1 = (
                    _pg.cpu_seconds(worker.pid),
                    _pg.cpu_seconds(sim.pid),
                    _pg.postgres_cpu_seconds(),
                )
            finally:
                try:  # the simulator writes its buffered calls-log rows before we read them
                    import httpx

                    httpx.get(f"{sim_base}/control", params={"since": 2**62}, timeout=120)
                except Exception as exc:
                    print(f"the simulator's calls log may be incomplete: {exc}")
                for proc in (worker, web, sim):
                    if proc is not None:
                        proc.stop()
            tail = worker.tail() if worker else ""
            if "Traceback" in tail or args.verbose:
                print(tail)
            window = (end - start).total_seconds()
            times = poll_times(sim_url, set(upstream), end)
            g = gaps(times, list(upstream), start, end)
            all_polls = sim_query(
                sim_url,
                "SELECT count(*) FROM simulator_simcall WHERE method = 'GET' "
                "AND path LIKE '/api/render/%%' AND at >= %s AND at <= %s",
                (start, end),
            )[0][0]
            watched_upstream = [
                j.upstream_job_id for j in RenderJob.objects.filter(pk__in=[w.pk for w in watched])
            ]
            ends = {
                job_id: (finish, ended)
                for job_id, finish, ended in sim_query(
                    sim_url,
                    "SELECT job_id, finish_at, ended_at FROM simulator_simjob "
                    "WHERE job_id = ANY(%s)",
                    (watched_upstream,),
                )
            }
            watched_polls = poll_times(sim_url, set(watched_upstream), datetime.now(tz=UTC))
            delays, missing = [], 0
            for job in RenderJob.objects.filter(pk__in=[w.pk for w in watched]):
                events = results.get(job.public_id, [])
                seen = next((at for at, s in events if s in ("finishing", "complete")), None)
                end_at, ended_at = ends.get(job.upstream_job_id, (None, None))
                if seen is None or end_at is None:
                    missing += 1
                    continue
                delays.append(seen - end_at.timestamp())
                # Where the delay went: until our first poll after the end, the simulator's
                # answer to it (it renders the output then), and ours after its answer.
                first = next(
                    (t for t in watched_polls.get(job.upstream_job_id, []) if t >= end_at), None
                )
                if first is not None and ended_at is not None:
                    parts["poll after the end"].append((first - end_at).total_seconds())
                    parts["simulator's answer"].append((ended_at - first).total_seconds())
                    parts["answer -> browser"].append(seen - ended_at.timestamp())
            if results.get("_errors"):
                print(f"stream errors: {results['_errors'][:5]}")
            drop_sim()
            from django.db import connections

            connections.close_all()

    worker_cpu, sim_cpu, pg_cpu = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    polls_per_s = all_polls / window
    cpu_ms = 1000 * worker_cpu / max(1, all_polls)
    print(
        f"\n{args.jobs} active renders, one worker (POLLER_CONCURRENCY={args.concurrency}), "
        f"{window:.0f}s window; CPU of the window: worker {100 * worker_cpu / window:.0f}%, "
        f"simulator {100 * sim_cpu / window:.0f}%, Postgres {100 * pg_cpu / window:.0f}% "
        f"(100% = one core; {os.cpu_count()} cores, shared); load average (1 min) "
        f"{load0:.1f} at the start, {load1:.1f} at the end"
    )
    print(
        f"  gaps between polls of one job: p95 of each job's worst {g['gap_p95']:.2f}s, "
        f"max {g['max_gap']:.2f}s, min {g['min_gap']:.2f}s; "
        f"watched: {len(delays)} ended with an event, {missing} without"
    )
    if parts:
        print(
            "  upstream end -> browser event, medians (s): "
            + ", ".join(f"{name} {statistics.median(v):.2f}" for name, v in parts.items())
        )
    per_poll = {name: 1000 * cpu / max(1, all_polls) for name, (cpu, _) in threads.items()}
    kernel = {name: system / cpu if cpu else 0.0 for name, (cpu, system) in threads.items()}
    poll_path = per_poll.get("poller", 0.0) + per_poll.get("viggle-status", 0.0)
    print(
        "  worker CPU per poll by thread (ms): "
        + ", ".join(
            f"{n} {v:.3f} ({kernel[n]:.0%} kernel)"
            for n, v in sorted(per_poll.items(), key=lambda kv: -kv[1])
        )
    )
    rows = [
        row("share of jobs polled within 5 s", g["kept"], 1.0, higher_is_better=True),
        row(
            "polls/s (limit: jobs / 5 s)",
            polls_per_s,
            args.jobs / GAP_LIMIT,
            higher_is_better=True,
        ),
        row("worker CPU per poll, whole process (ms)", cpu_ms, CPU_LIMIT_MS),
        row("worker CPU per poll: loop + status GETs (ms)", poll_path, CPU_LIMIT_MS),
        row(
            "worker CPU per poll: job_changed recv. (ms)",
            per_poll.get("poll-announce", 0.0),
            None,
        ),
        row("max gap between two polls of a job (s)", g["max_gap"], GAP_LIMIT),
        row(
            "min gap between two polls of a job (s)",
            g["min_gap"],
            MIN_GAP,
            higher_is_better=True,
        ),
    ]
    if delays:
        rows.append(
            row("upstream end -> SSE event p50 (s)", statistics.median(delays), DELAY_LIMIT)
        )
        rows.append(row("upstream end -> SSE event p95 (s)", _pg.percentile(delays, 95), None))
    rows.append(row("simulator CPU per poll (ms)", 1000 * sim_cpu / max(1, all_polls), None))
    rows.append(row("Postgres CPU per poll (ms)", 1000 * pg_cpu / max(1, all_polls), None))
    rows.append(row("load average (1 min) at the window's end", load1, None))
    print(f"\n{'figure':<52} {'value':>9} {'limit':>7} {'ratio':>6}  target  met")
    for r in rows:
        limit = "-" if r["limit"] is None else f"{r['limit']:.2f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        print(
            f"{r['figure']:<52} {r['value']:>9.3f} {limit:>7} {ratio:>6}  {r['target']:<6}  {met}"
        )
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--window", type=float, default=40.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--watched", type=int, default=20)
    parser.add_argument("--stagger", type=float, default=0.5, help="seconds between watched")
    parser.add_argument("--speed", type=float, default=0.01, help="simulator speed (background)")
    parser.add_argument(
        "--watched-speed", type=float, default=0.5, help="simulator speed (watched)"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--q-workers", type=int, default=4)
    parser.add_argument("--verbose", action="store_true", help="print the worker's log")
    parser.add_argument("--worker-log-level", default="WARNING")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="worker",
        choices=("worker", "simulator", "both"),
        help="py-spy the worker (default), the simulator or both in the window",
    )
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    main()
