"""Shared plumbing for the benches: a Postgres, a scratch database, and child processes.

postgres_server()   DATABASE_URL's server when set; else a throwaway Postgres 15 started the way
                    bin/test does (initdb + pg_ctl as the postgres user when run as root, fsync
                    off), removed on exit.
scratch_database()  creates ``viggle_bench_<pid>`` on that server (never touching the database
                    DATABASE_URL names), yields its URL, drops it on exit.
setup_django()      points this process at a database and migrates it.
Proc                a child process (simulator, uvicorn, poller) in its own process group, stopped
                    by its own pid only.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTMASTER_PID: int | None = None  # set when this process started its own Postgres

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a Postgres server (database part unspecified)."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        yield url
        return
    if not (PG_BIN / "initdb").exists():
        sys.exit("No DATABASE_URL and no /usr/lib/postgresql/15 (apt-get install postgresql-15)")
    # A SIGTERM (timeout, Ctrl-C from a supervisor) must still run the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pg_dir = Path(tempfile.mkdtemp(prefix="viggle-bench-pg."))
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(pg_dir, "postgres")
    try:
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "initdb"), "-D", f"{pg_dir}/data", "-A", "trust", "-U", "postgres"]
                + ["--no-sync"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = (
            f"-p {port} -k {pg_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
            "-c shared_buffers=256MB"
        )
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", f"{pg_dir}/data", "-l", f"{pg_dir}/log", "-w"]
                + ["-o", options, "start"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        global POSTMASTER_PID
        POSTMASTER_PID = int((pg_dir / "data" / "postmaster.pid").read_text().split()[0])
        print(f"(throwaway Postgres 15 on 127.0.0.1:{port})", flush=True)
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", f"{pg_dir}/data", "-m", "immediate", "stop"]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(pg_dir, ignore_errors=True)


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(server_url: str | None = None) -> Iterator[str]:
    """Create ``viggle_bench_<pid>``, yield its URL, drop it (WITH FORCE) at the end."""
    import psycopg

    with contextlib.ExitStack() as stack:
        if server_url is None:
            server_url = stack.enter_context(postgres_server())
        name = f"viggle_bench_{os.getpid()}"
        admin_url = _with_db(server_url, "postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_db(server_url, name)
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(db_url: str, *, media_root: str, migrate: bool = True, **env: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["MEDIA_ROOT"] = media_root
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bench_settings")
    os.environ.update(env)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def child_env(db_url: str, media_root: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "VIGGLE_", "POLLER_", "Q_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": db_url,
            "MEDIA_ROOT": media_root,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def simulator_env(db_url: str, media_root: str, speed: float, **extra: str) -> dict[str, str]:
    """The simulator refuses to run without DEBUG; it is our stand-in, not what we measure."""
    return child_env(
        db_url,
        media_root,
        DJANGO_SETTINGS_MODULE="viggle_web.settings",
        DEBUG="true",
        VIGGLE_SIMULATOR_ENABLED="true",
        VIGGLE_SIMULATOR_SPEED=str(speed),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        **extra,
    )


class Proc:
    """A child process in its own session; stop() signals its group by its own pid."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_dir: str) -> None:
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def wait_http(url: str, *, timeout: float = 30.0, proc: Proc | None = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            pass
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout:.0f}s")
        time.sleep(0.2)


def start_simulator(
    db_url: str, media_root: str, log_dir: str, *, speed: float
) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        "simulator",
        [PYTHON, "manage.py", "viggle_simulator", "--port", str(port)],
        simulator_env(db_url, media_root, speed),
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/control", proc=proc)
    return proc, base


def start_uvicorn(env: dict[str, str], log_dir: str) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        "uvicorn",
        [PYTHON, "-m", "uvicorn", "viggle_web.asgi:application", "--host", "127.0.0.1"]
        + ["--port", str(port), "--log-level", "warning", "--no-access-log"],
        env,
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", proc=proc)
    return proc, base


def start_poller(
    env: dict[str, str], log_dir: str, *, seconds: float, name: str = "poller"
) -> Proc:
    """One poll loop (viggle_web.renders.poller.run_loop, one slot) in its own process."""
    code = (
        "import django; django.setup(); "
        "from viggle_web.renders import poller; "
        f"print('worked', poller.run_loop(seconds={seconds}), flush=True)"
    )
    return Proc(name, [PYTHON, "-c", code], env, log_dir)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM (kB) of a process."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def postgres_cpu_seconds() -> float:
    """CPU time so far of our own Postgres server's processes (the postmaster and its live
    children); with an outside DATABASE_URL server, of every process named postgres."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if POSTMASTER_PID is not None:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                if int(entry) != POSTMASTER_PID and ppid != POSTMASTER_PID:
                    continue
            else:
                with open(f"/proc/{entry}/comm") as fh:
                    if fh.read().strip() != "postgres":
                        continue
            total += cpu_seconds(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return total


def wait_quiet(*, idle_share: float = 0.8, max_wait: float = 60.0) -> float:
    """Wait (at most ``max_wait``) until the machine is mostly idle: other people's test runs
    share these cores. Returns the idle share seen last (printed with the figures)."""
    deadline = time.monotonic() + max_wait
    while True:
        with open("/proc/stat") as fh:
            a = [int(x) for x in fh.readline().split()[1:]]
        time.sleep(1.0)
        with open("/proc/stat") as fh:
            b = [int(x) for x in fh.readline().split()[1:]]
        idle = (b[3] + b[4] - a[3] - a[4]) / max(1, sum(b) - sum(a))
        if idle >= idle_share or time.monotonic() > deadline:
            return idle


def session_cookie(user) -> str:
    """A logged-in session for ``user`` made with Django's session store (no login form)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    from django.utils.module_loading import import_string

    # The first backend that can load a user (django-axes' comes first and cannot).
    backend = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if hasattr(import_string(path), "get_user")
    )
    store[BACKEND_SESSION_KEY] = backend
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def py_spy(pid: int, out: str) -> tuple[subprocess.Popen, str]:
    """Start ``py-spy record`` on ``pid`` (all threads, idle excluded) writing collapsed stacks
    to ``out``; py_spy_report() stops it and summarises. py-spy: PY_SPY or the PATH."""
    exe = os.environ.get("PY_SPY") or shutil.which("py-spy") or "py-spy"
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "-o", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    return proc, out


def py_spy_report(spy: tuple[subprocess.Popen, str], top: int = 12) -> str:
    """Stop the recording; the functions most often on top of a stack (self time)."""
    proc, out = spy
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    totals: dict[str, int] = {}
    total = 0
    with open(out) as fh:
        for line in fh:
            stack, _, count = line.rstrip().rpartition(" ")
            frame = stack.rsplit(";", 1)[-1]
            totals[frame] = totals.get(frame, 0) + int(count)
            total += int(count)
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    lines = [f"py-spy: {total} samples of the web process (self time):"]
    lines += [f"  {100 * n / max(total, 1):5.1f}%  {frame[:110]}" for frame, n in rows]
    return "\n".join(lines)
