"""Fixtures for code that talks to Viggle: the simulator over real HTTP, and media to send it.

viggle_sim     the simulator, reset: its own process on its own port (session-scoped
               `simulator_server`, `manage.py viggle_simulator` with a database of its own), with
               settings.VIGGLE_BASE_URL and settings.VIGGLE_API_KEY pointing at it; returns a
               SimHelper (knobs, calls log, wait_for, a ready-made client).
media_server   a tiny static HTTP server over a temp directory, for the *_url input fields.
sim_media      a SimpleNamespace of small media files (png, jpg, mp4) made for the test.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.media_factory import make_jpg, make_mp4, make_png
from viggle_web.viggle.client import ViggleClient
from viggle_web.viggle.types import Upload

SIM_KEY = "sk-simulator-local-dev"
REPO = Path(__file__).resolve().parent.parent


class SimHelper:
    """Drives the simulator's control endpoint (see viggle_web/simulator/views.py:control)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.control_url = f"{base_url}/control"
        self.http = httpx.Client(timeout=60)
        self.sleeps: list[float] = []

    # knobs
    def control(self, **body: Any) -> dict[str, Any]:
        response = self.http.post(self.control_url, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self) -> None:
        self.control(action="reset")

    def set(self, **knobs: Any) -> dict[str, Any]:
        return self.control(action="set", **knobs)["state"]

    def set_speed(self, speed: float | None) -> None:
        self.set(speed=speed)

    def set_keys(self, keys: list[str] | None) -> None:
        """The API keys the simulator accepts (None: its settings' keys); reset restores."""
        self.set(keys=keys)

    def set_credits(self, credits: float) -> None:
        self.set(credits=credits)

    def set_capacity(self, fast_capacity: int | None) -> None:
        self.set(fast_capacity=fast_capacity)

    def fault(
        self,
        kind: str,
        *,
        count: int | None = 1,
        path_prefix: str = "",
        method: str = "",
        key: str = "",
        retry_after: float | None = None,
        latency_ms: int = 0,
        rate: float = 1.0,
    ) -> int:
        """Inject a fault: kind is 500, 502, 503, 429, latency, malformed or drop."""
        body = self.control(
            action="fault",
            kind=kind,
            count=count,
            path_prefix=path_prefix,
            method=method,
            key=key,
            retry_after=retry_after,
            latency_ms=latency_ms,
            rate=rate,
        )
        return body["fault_id"]

    def clear_faults(self) -> None:
        self.control(action="clear_faults")

    # reads
    def state(self) -> dict[str, Any]:
        return self.http.get(self.control_url).json()["state"]

    def calls(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """The calls log; `path` matches as a prefix of the API path (e.g. "/api/render")."""
        calls = self.http.get(self.control_url).json()["calls"]
        return [
            c
            for c in calls
            if (method is None or c["method"] == method)
            and (path is None or c["path"].startswith(path))
        ]

    def creates(self) -> list[dict[str, Any]]:
        return self.calls("POST", "/api/render")

    def jobs(self) -> dict[str, dict[str, Any]]:
        """Every upstream render job's inputs (upload digests or preprocessed ids), by job id."""
        jobs = self.http.get(self.control_url, params={"jobs": 1}).json()["jobs"]
        return {job["job_id"]: job for job in jobs}

    # clients and waiting
    def client(self, **overrides: Any) -> ViggleClient:
        """A client on the simulator whose backoff sleeps are recorded in `sleeps`, not slept."""
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "api_key": self.key,
            "timeout": 10.0,
            "upload_timeout": 120.0,
            "max_retries": 3,
            "sleep": self.sleeps.append,
        }
        options.update(overrides)
        return ViggleClient(**options)

    def render(self, media: SimpleNamespace) -> str:
        """Start a render of the ``sim_media`` image and clip, as a script would; its job id."""
        with self.client() as client:
            return client.render_create(
                ref_image=Upload("c.png", io.BytesIO(media.png.read_bytes()), "image/png"),
                driving_video=Upload("m.mp4", io.BytesIO(media.mp4.read_bytes()), "video/mp4"),
            ).job_id

    def wait_for(self, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll the status endpoint (no auth, like the docs) until the job is final."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.http.get(f"{self.base_url}/api/render/{job_id}").json()
            if body["status"] in ("complete", "failed", "cancelled"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {body['status']} after {timeout}s")
            time.sleep(0.1)

    def wait_ready(self, kind: str, ident: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for a character or scene (kind "characters" / "scenes") to be ready."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.key}"}
        while True:
            body = self.http.get(f"{self.base_url}/api/{kind}/{ident}", headers=headers).json()
            if body.get("status") in ("ready", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{kind} {ident} not ready after {timeout}s")
            time.sleep(0.1)

    def close(self) -> None:
        self.http.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _simulator_database(root: Path) -> tuple[str, Callable[[], None]]:
    """A database of the simulator's own: a fresh one beside the test database on the same
    Postgres server (bin/test), else a SQLite file. Returns its URL and how to drop it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{root / 'simulator.sqlite3'}", lambda: None
    import psycopg

    parsed = urlsplit(url)
    name = f"viggle_sim_{os.getpid()}"
    admin = urlunsplit(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        # FORCE: a simulator stopped a moment ago may still have its (kept) connections open.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parsed._replace(path=f"/{name}")), drop


@pytest.fixture(scope="session")
def simulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Viggle simulator as its own process on its own port (`manage.py viggle_simulator`,
    as bin/run starts it), with its own database and media folder; its base URL. The app under
    test never mounts it and has no simulator tables."""
    root = tmp_path_factory.mktemp("simulator")
    database_url, drop = _simulator_database(root)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "viggle_web.settings_test",
        "VIGGLE_SIMULATOR_ENABLED": "true",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(root / "media"),
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=REPO, check=True, timeout=300)
    port = _free_port()
    log = (root / "simulator.log").open("wb")
    process = subprocess.Popen(
        [*manage, "viggle_simulator", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base_url}/control", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the simulator did not start: "
                        + (root / "simulator.log").read_text(errors="replace")[-3000:]
                    )
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        drop()


@pytest.fixture
def viggle_sim(simulator_server: str, transactional_db: Any, settings: Any) -> Iterator[SimHelper]:
    """The simulator (its own process, over HTTP), reset; the app's settings point at it.
    Transactional: worker processes and the simulator must see what a test commits."""
    settings.VIGGLE_BASE_URL = simulator_server
    settings.VIGGLE_API_KEY = SIM_KEY
    helper = SimHelper(simulator_server, SIM_KEY)
    helper.reset()
    yield helper
    helper.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def media_server(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """Serves files put in `.root` at `.url(name)` over HTTP on loopback."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield SimpleNamespace(root=root, url=lambda name: f"http://127.0.0.1:{port}/{name}")
    server.shutdown()
    server.server_close()


@pytest.fixture
def sim_media(tmp_path: Path) -> SimpleNamespace:
    """A character PNG/JPG and a 2-second driving MP4, made for this test."""
    return SimpleNamespace(
        png=make_png(tmp_path / "character.png"),
        jpg=make_jpg(tmp_path / "character.jpg"),
        mp4=make_mp4(tmp_path / "motion.mp4", seconds=2.0),
    )
