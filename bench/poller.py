"""How many active renders one poll loop keeps fresh, and how fast a result reaches the browser.

    .venv/bin/python bench/poller.py                     # both parts, ~3 min
    .venv/bin/python bench/poller.py --part a --sizes 250,500,1000,2000
    .venv/bin/python bench/poller.py --part b --watched 20 --background 300

(a) N upstream jobs are written straight into the simulator's own tables (hours long, so they
    stay ``processing``) with matching RenderJob rows (processing, upstream id set, first polls
    spread over 3 s as in steady state). ONE poll loop (poller.run_loop, one slot, in its own
    process with production settings) runs against the simulator (its own process, loopback)
    for a warm-up plus a measuring window. Every status GET the simulator answered is in its
    calls log, so each job's staleness (time since its previous poll) is known exactly, with
    no sampling. Prints, per N, the share of jobs never left unpolled for more than 5 s.
(b) uvicorn serves the app (ASGI, Postgres LISTEN/NOTIFY); one browser-like SSE stream per
    watched job (httpx, a session cookie made with Django's session store). Watched jobs end
    upstream at known times, staggered; ``--background`` other jobs are polled meanwhile (the
    NOTIFY traffic every open stream sees). Prints p50/p95 of
      event arrival - upstream completion   (finish_at in the simulator's table), and
      event arrival - the poll that saw it  (the job's updated_at when it turned "finishing",
                                            which is the event's SSE id)
    and the same for the "complete" event (result copied into our storage).

Needs a Postgres: DATABASE_URL's server, or a throwaway Postgres 15 it starts itself.
Creates and drops its own database ``viggle_bench_<pid>``. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _pg  # noqa: E402

STALE_LIMIT = 5.0


def total_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Machine:
    def __init__(self) -> None:
        self.start = total_cpu()

    def busy_share(self) -> float:
        busy, total = total_cpu()
        return (busy - self.start[0]) / max(1, total - self.start[1])


def make_inputs(media_root: str) -> tuple[str, str]:
    from tests.media_factory import make_mp4, make_png

    folder = Path(media_root) / "simulator" / "inputs" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    make_png(folder / "ref.png", size=(128, 128))
    make_mp4(folder / "drv.mp4", seconds=1.0, size=(160, 120), fps=12)
    return "simulator/inputs/bench/ref.png", "simulator/inputs/bench/drv.mp4"


def make_jobs(
    owner, prefix: str, count: int, *, finish_in: list[float] | None, inputs: tuple[str, str]
):
    """``count`` upstream jobs in the simulator's table plus our RenderJob rows for them."""
    from django.utils import timezone

    from viggle_web.renders.models import RenderJob
    from viggle_web.simulator.models import SimJob

    now = timezone.now()
    sims, ours = [], []
    for i in range(count):
        upstream = f"job_{prefix}{i:05d}"
        finish = now + timedelta(seconds=finish_in[i] if finish_in else 6 * 3600)
        sims.append(
            SimJob(
                job_id=upstream,
                mode="full_pipeline",
                ref_image=inputs[0],
                driving_video=inputs[1],
                output_seconds=1.0,
                credits=1,
                created_at=now - timedelta(seconds=2),
                started_at=now - timedelta(seconds=2),
                finish_at=finish,
            )
        )
        ours.append(
            RenderJob(
                owner=owner,
                idempotency_key=f"bench-{prefix}-{i}",
                status=RenderJob.Status.PROCESSING,
                upstream_status="processing",
                upstream_job_id=upstream,
                upstream_mode="full_pipeline",
                estimate_credits=1,
                estimate_seconds=1.0,
                submitted_at=now,
                # Steady state: first polls spread over one poll interval.
                next_poll_at=now + timedelta(seconds=random.uniform(0, 3)),
            )
        )
    SimJob.objects.bulk_create(sims, batch_size=1000)
    return RenderJob.objects.bulk_create(ours, batch_size=1000)


def pg_counters() -> tuple[int, int]:
    """(sessions opened, transactions committed) on this database so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return tuple(cursor.fetchone())


def clear_jobs() -> None:
    from viggle_web.renders.models import PollerSlot, RenderJob
    from viggle_web.simulator.models import SimCall, SimJob
    from viggle_web.usage.models import CreditEntry

    CreditEntry.objects.all().delete()
    RenderJob.objects.all().delete()
    SimJob.objects.all().delete()
    SimCall.objects.all().delete()
    PollerSlot.objects.all().delete()


def staleness(prefix: str, count: int, start: datetime, end: datetime) -> dict:
    """From the simulator's calls log: each job's largest gap between polls inside the window."""
    from viggle_web.simulator.models import SimCall

    polls: dict[str, list[datetime]] = defaultdict(list)
    rows = SimCall.objects.filter(
        method="GET", path__startswith=f"/api/render/job_{prefix}", at__lte=end
    ).values_list("path", "at")
    for path, at in rows:
        polls[path].append(at)
    from viggle_web.renders.models import RenderJob

    saved = dict(
        RenderJob.objects.filter(upstream_job_id__startswith=f"job_{prefix}").values_list(
            "upstream_job_id", "updated_at"
        )
    )
    # How long one poll takes: the GET reaching the simulator -> our row saved with its answer.
    turnaround: list[float] = []
    for upstream, at in saved.items():
        times = [t for t in polls.get(f"/api/render/{upstream}", []) if t <= at]
        if times:
            turnaround.append((at - max(times)).total_seconds())
    worst: list[float] = []
    gaps_all: list[float] = []
    in_window = 0
    for i in range(count):
        times = sorted(polls.get(f"/api/render/job_{prefix}{i:05d}", []))
        before = [t for t in times if t < start]
        inside = [t for t in times if t >= start]
        in_window += len(inside)
        marks = ([before[-1]] if before else [start]) + inside + [end]
        gaps = [(b - a).total_seconds() for a, b in zip(marks, marks[1:], strict=False)]
        gaps_all.extend(gaps[:-1])  # closed gaps only
        worst.append(max(gaps))
    return {
        "kept": sum(1 for w in worst if w <= STALE_LIMIT) / count,
        "worst_p50": statistics.median(worst),
        "worst_max": max(worst),
        "gap_p50": statistics.median(gaps_all) if gaps_all else float("nan"),
        "gap_p95": _pg.percentile(gaps_all, 95),
        "polls_per_s": in_window / (end - start).total_seconds(),
        "turnaround_p50": statistics.median(turnaround) if turnaround else float("nan"),
    }


def part_a(args, db_url: str, media_root: str, log_dir: str, sim_base: str, sim) -> list[int]:
    from django.utils import timezone

    from viggle_web.accounts.models import User

    owner = User.objects.get(username="bench-owner")
    env = _pg.child_env(
        db_url,
        media_root,
        VIGGLE_BASE_URL=sim_base,
        POLLER_THREADS=str(args.threads),
        POLLER_BATCH=str(args.batch),
        POLLER_SLOTS="1",
    )
    print(
        f"\n(a) one poll loop, {args.threads} threads, batch {args.batch}; "
        f"{args.warmup:.0f}s warm-up then a {args.window:.0f}s window per N; "
        f"kept = share of jobs never unpolled for more than {STALE_LIMIT:.0f}s"
    )
    print(
        f"{'N':>6} {'kept':>7} {'polls/s':>8} {'gap p50':>8} {'gap p95':>8} {'worst':>7} "
        f"{'CPU poller':>10} {'CPU sim':>8} {'CPU pg':>7} {'machine':>8} {'poll took':>9} "
        f"{'PG conn/s':>9} {'PG tx/s':>7}"
    )
    kept_ok: list[int] = []
    for n in args.sizes:
        clear_jobs()
        idle = _pg.wait_quiet()
        if idle < 0.8:
            print(f"  (machine only {100 * idle:.0f}% idle before N={n}: others' load)")
        make_jobs(owner, f"a{n}_", n, finish_in=None, inputs=args.inputs)
        proc = _pg.start_poller(
            env, log_dir, seconds=args.warmup + args.window + 1, name=f"poller-{n}"
        )
        time.sleep(args.warmup)
        start = timezone.now()
        cpu0 = (
            _pg.cpu_seconds(proc.pid),
            _pg.cpu_seconds(sim.pid),
            _pg.postgres_cpu_seconds(),
        )
        machine = Machine()
        counters0 = pg_counters()
        time.sleep(args.window)
        counters1 = pg_counters()
        end = timezone.now()
        cpu1 = (
            _pg.cpu_seconds(proc.pid),
            _pg.cpu_seconds(sim.pid),
            _pg.postgres_cpu_seconds(),
        )
        busy = machine.busy_share()
        proc.stop()
        if "Traceback" in proc.tail():
            print(proc.tail())
        s = staleness(f"a{n}_", n, start, end)
        if args.diag:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT relname, seq_scan, seq_tup_read, idx_scan, n_tup_ins, n_tup_upd, "
                    "n_dead_tup FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT 6"
                )
                for row in cursor.fetchall():
                    print("   ", row)
        window = (end - start).total_seconds()
        print(
            f"{n:>6} {100 * s['kept']:>6.1f}% {s['polls_per_s']:>8.0f} {s['gap_p50']:>7.2f}s "
            f"{s['gap_p95']:>7.2f}s {s['worst_max']:>6.1f}s "
            f"{100 * (cpu1[0] - cpu0[0]) / window:>9.0f}% "
            f"{100 * (cpu1[1] - cpu0[1]) / window:>7.0f}% "
            f"{100 * busy:>7.0f}% {1000 * s['turnaround_p50']:>7.0f}ms "
            f"{(counters1[0] - counters0[0]) / window:>9.0f} "
            f"{(counters1[1] - counters0[1]) / window:>7.0f}",
            flush=True,
        )
        if s["kept"] >= 0.99:
            kept_ok.append(n)
    best = max(kept_ok) if kept_ok else 0
    print(
        f"largest N with >= 99% of jobs polled within {STALE_LIMIT:.0f}s: "
        f"{best if best else 'none of ' + ','.join(map(str, args.sizes))} "
        f"(CPU %: 100% = one core; the machine has {os.cpu_count()} cores shared by poller, "
        "simulator and Postgres)"
    )
    return kept_ok


async def watch(base: str, cookie: str, public_id: str, deadline: float, out: dict) -> None:
    import httpx

    url = f"{base}/renders/stream/?jobs={public_id}&view=detail"
    events: list[tuple[float, str, str]] = []
    out[public_id] = events
    async with httpx.AsyncClient(cookies={"sessionid": cookie}, timeout=None) as client:
        try:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    out.setdefault("_errors", []).append(response.status_code)
                    return
                event_id, status = "", ""
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        event_id = line[4:]
                    elif "data-status=" in line:
                        status = line.split('data-status="', 1)[1].split('"', 1)[0]
                    elif line == "" and event_id:
                        events.append((time.time(), event_id, status))
                        event_id = ""
                        if status in ("complete", "failed"):
                            return
                    if time.monotonic() > deadline:
                        return
        except (httpx.HTTPError, asyncio.CancelledError):
            return


async def watch_all(base: str, cookie: str, ids: list[str], seconds: float) -> dict:
    out: dict = {}
    deadline = time.monotonic() + seconds
    tasks = [asyncio.create_task(watch(base, cookie, pid, deadline, out)) for pid in ids]
    done, pending = await asyncio.wait(tasks, timeout=seconds + 2)
    for task in pending:
        task.cancel()
    return out


def part_b(args, db_url: str, media_root: str, log_dir: str, sim_base: str) -> None:
    from django.utils.dateparse import parse_datetime

    from viggle_web.accounts.models import User
    from viggle_web.renders.models import RenderJob
    from viggle_web.simulator.models import SimJob

    owner = User.objects.get(username="bench-owner")
    clear_jobs()
    env = _pg.child_env(db_url, media_root, VIGGLE_BASE_URL=sim_base, POLLER_SLOTS="1")
    web, base = _pg.start_uvicorn(env, log_dir)
    cookie = _pg.session_cookie(owner)
    try:
        k = args.watched
        if args.background:
            make_jobs(owner, "bg_", args.background, finish_in=None, inputs=args.inputs)
        finish_in = [6.0 + i * (10.0 / max(1, k - 1)) for i in range(k)]
        jobs = make_jobs(owner, "w_", k, finish_in=finish_in, inputs=args.inputs)
        ids = [j.public_id for j in jobs]
        upstream = {j.public_id: j.upstream_job_id for j in jobs}
        finish_at = dict(
            SimJob.objects.filter(job_id__in=upstream.values()).values_list("job_id", "finish_at")
        )
        poll = _pg.start_poller(env, log_dir, seconds=args.watch_seconds + 2, name="poller-b")
        web_cpu0 = _pg.cpu_seconds(web.pid)
        began = time.monotonic()
        results = asyncio.run(watch_all(base, cookie, ids, args.watch_seconds))
        web_cpu = (_pg.cpu_seconds(web.pid) - web_cpu0) / (time.monotonic() - began)
        poll.stop()
        if results.get("_errors"):
            print(f"stream errors {results['_errors'][:5]}; web log:\n{web.tail()}")
    finally:
        web.stop()
    after_done, after_poll, done_after_done = [], [], []
    events_total, missing = 0, 0
    for pid in ids:
        events = results.get(pid, [])
        events_total += len(events)
        done = finish_at[upstream[pid]].timestamp()
        finishing = next((e for e in events if e[2] in ("finishing", "complete")), None)
        complete = next((e for e in events if e[2] == "complete"), None)
        if finishing is None or complete is None:
            missing += 1
            continue
        arrival, event_id, _ = finishing
        after_done.append(arrival - done)
        after_poll.append(arrival - parse_datetime(event_id).timestamp())
        done_after_done.append(complete[0] - done)
    status = dict(RenderJob.objects.filter(public_id__in=ids).values_list("public_id", "status"))
    completed = sum(1 for s in status.values() if s == "complete")

    def line(label: str, values: list[float]) -> str:
        if not values:
            return f"  {label}: no data"
        return (
            f"  {label}: p50 {1000 * statistics.median(values):.0f} ms, "
            f"p95 {1000 * _pg.percentile(values, 95):.0f} ms, max {1000 * max(values):.0f} ms"
        )

    print(
        f"\n(b) {k} SSE streams (one per watched job) on uvicorn, Postgres LISTEN/NOTIFY; "
        f"{args.background} other jobs polled meanwhile; {completed}/{k} watched jobs complete, "
        f"{events_total} events received, {missing} streams without a final event; "
        f"web process CPU {100 * web_cpu:.0f}% of a core"
    )
    print(line("'finishing' event after upstream completion", after_done))
    print(line("'finishing' event after the poll that saw it ", after_poll))
    print(line("'complete' event after upstream completion  ", done_after_done))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--sizes", default="250,500,1000,2000")
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--diag", action="store_true", help="print table scan counters")
    parser.add_argument("--watched", type=int, default=20)
    parser.add_argument("--background", type=int, default=300)
    parser.add_argument("--watch-seconds", type=float, default=30.0)
    args = parser.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",") if x]

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="viggle-bench-") as tmp:
        media_root = f"{tmp}/media"
        log_dir = f"{tmp}/logs"
        os.makedirs(media_root)
        os.makedirs(log_dir)
        with _pg.scratch_database() as db_url:
            _pg.setup_django(db_url, media_root=media_root)
            from viggle_web.accounts.models import User

            User.objects.create_user(username="bench-owner", password="x", role="admin")
            args.inputs = make_inputs(media_root)
            sim, sim_base = _pg.start_simulator(db_url, media_root, log_dir, speed=1.0)
            try:
                if args.part in ("a", "both"):
                    part_a(args, db_url, media_root, log_dir, sim_base, sim)
                if args.part in ("b", "both"):
                    part_b(args, db_url, media_root, log_dir, sim_base)
            finally:
                sim.stop()
                from django.db import connections

                connections.close_all()
    print(f"\n(total {time.monotonic() - began:.0f}s; {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
