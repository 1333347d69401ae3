"""The poller's status requests, ``GET /api/render/{id}``, made cheaply: one asyncio thread
keeps up to ``connections`` HTTP/1.1 keep-alive connections (TLS for https) and writes and
reads the requests itself, instead of httpx through a thread per request in flight.

Why (issue 18, docs/performance.md): with httpx the worker spent ~4 ms of CPU per poll, 60-70 %
of it in httpx/httpcore (request building, the pool's locks, 64 threads taking turns at the
GIL). Only this one idempotent GET, thousands a minute, takes this path; every other call
(sends, cancels, downloads, preprocessing) stays on ``ViggleClient`` (httpx).

It answers exactly as ``ViggleClient.render_status``: the same ``RenderStatus``; failures are
handed to the client's own mapping (``_status_failure`` with the response's status, headers
and body; ``_transport_failure`` with the httpx exception type the same failure raises there),
so codes, messages, ``retryable`` and Retry-After are the same; retryable failures are retried
with the client's backoff (``max_retries``; a Retry-After over 60 s is not waited for), without
blocking a thread. Like the client it sends no API key (the documented no-auth call), the same
User-Agent and Accept, and verifies TLS with httpx's default context. With a proxy configured
in the environment (which httpx would use) it runs ``render_status`` on threads instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import selectors
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx

from viggle_web.viggle.client import USER_AGENT, ViggleClient
from viggle_web.viggle.errors import MALFORMED, ViggleError
from viggle_web.viggle.http1 import Connection, Response
from viggle_web.viggle.transport import _path_for_log, _seg
from viggle_web.viggle.types import RenderStatus

logger = logging.getLogger("viggle_web.viggle")

# Answers are handed over at most this often: fewer wake-ups of the receiving thread (~5 answers
# per hand-off at 500 polls/s) for a delay the poller's 50 ms write window absorbs.
HAND_OVER_SECONDS = 0.01

# The fetcher's thread looks for answers at most this often: the answers that arrive within one
# tick are read in one wake-up (at 500 polls/s about three), for a delay a poll's 3 s spacing and
# the poller's 20 ms turns do not notice.
TICK_SECONDS = 0.005

# Requests kept ready, one per job polled (at 2,000 jobs about 300 KB).
MAX_KEPT_REQUESTS = 20_000

# One answer: (key, status or None, error or None, arrival in epoch seconds).
Result = tuple[Any, RenderStatus | None, ViggleError | None, float]
Done = Callable[[list[Result]], None]


def os_thread_name(name: str) -> None:
    """Name the calling thread for the OS (Linux, 15 bytes), so per-thread CPU can be read from
    /proc/<pid>/task/*/comm (bench/poller.py splits the worker's CPU by thread)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15] + b"\0", 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


class _TickSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The loop's selector: before it blocks, it waits out the rest of the current tick."""

    def __init__(self) -> None:
        super().__init__()
        self._woke = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        if timeout is None or timeout > 0:
            rest = self._woke + TICK_SECONDS - time.monotonic()
            if rest > 0:
                if timeout is not None:
                    rest = min(rest, timeout)
                    timeout -= rest
                time.sleep(rest)
        events = super().select(timeout)
        self._woke = time.monotonic()
        return events


class _Request:
    __slots__ = ("key", "upstream", "done", "attempt", "timer", "reused")

    def __init__(self, key: Any, upstream: str, done: Done) -> None:
        self.key = key
        self.upstream = upstream
        self.done = done
        self.attempt = 0
        self.timer: asyncio.TimerHandle | None = None
        self.reused = False  # sent on a kept connection (a silent close there is resent once)


class StatusFetcher:
    """``fetch_many`` from any thread; answers go to ``done`` in batches, from the fetcher's
    thread (``done`` must be quick: the poller's puts them on its queue)."""

    def __init__(self, client: ViggleClient, *, connections: int) -> None:
        self.client = client
        self.limit = max(1, connections)
        url = urlsplit(client.base_url)
        self.https = url.scheme == "https"
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if self.https else 80)
        default_port = url.port is None or url.port == (443 if self.https else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._prefix = f"{url.path.rstrip('/')}/api/render/"
        self._head_tail = (
            " HTTP/1.1\r\n"
            f"Host: {host if default_port else f'{host}:{self.port}'}\r\n"
            f"User-Agent: {USER_AGENT}\r\nAccept: application/json\r\n"
            "Accept-Encoding: gzip, deflate\r\n\r\n"
        ).encode("latin-1")
        self.ssl = httpx.create_ssl_context() if self.https else None
        proxies = urllib.request.getproxies()
        self.via_threads = bool(proxies.get(url.scheme) or proxies.get("all")) and not (
            urllib.request.proxy_bypass(self.host)
        )
        self._lines: dict[str, bytes] = {}  # upstream id -> its whole request
        self._idle: list[Connection] = []
        self._open = 0
        self._waiting: deque[_Request] = deque()
        self._out: dict[Done, list[Result]] = {}
        self._loop = asyncio.SelectorEventLoop(_TickSelector())
        self._thread = threading.Thread(target=self._run, name="viggle-status", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<StatusFetcher {self.client.base_url!r} connections={self.limit}>"

    # --- any thread ------------------------------------------------------------------------

    def fetch_many(self, items: Iterable[tuple[Any, str]], done: Done) -> None:
        """Ask for each ``(key, upstream job id)``; ``done`` gets ``(key, status, error, at)``."""
        batch = [_Request(key, upstream, done) for key, upstream in items]
        if batch:
            self._loop.call_soon_threadsafe(self._start_many, batch)

    def fetch(self, upstream: str, timeout: float | None = None) -> RenderStatus:
        """One status, blocking (tests, tools): raises ViggleError as the client does."""
        answered = threading.Event()
        box: list[Result] = []

        def done(results: list[Result]) -> None:
            box.extend(results)
            answered.set()

        self.fetch_many([(None, upstream)], done)
        if not answered.wait(timeout):
            raise TimeoutError("no answer from the status fetcher")
        _, status, error, _ = box[0]
        if error is not None:
            raise error
        assert status is not None
        return status

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(timeout=5)

    # --- the fetcher's thread --------------------------------------------------------------

    def _run(self) -> None:
        os_thread_name("viggle-status")
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def _stop(self) -> None:
        for conn in self._idle:
            conn.abort()
        self._idle.clear()
        self._waiting.clear()
        self._loop.stop()

    def _start_many(self, batch: list[_Request]) -> None:
        if self.via_threads:
            for request in batch:
                self._loop.run_in_executor(None, self._blocking, request)
            return
        self._waiting.extend(batch)
        self._pump()

    def _blocking(self, request: _Request) -> None:
        status: RenderStatus | None = None
        error: ViggleError | None = None
        try:
            status = self.client.render_status(request.upstream)
        except ViggleError as exc:
            error = exc
        except Exception as exc:  # a bug must not lose the job: its answer is an error
            logger.exception("Polling %s failed", request.upstream)
            error = ViggleError(str(exc) or "poll failed", retryable=True)
        result: Result = (request.key, status, error, time.time())
        self._loop.call_soon_threadsafe(self._deliver, request.done, result)

    def _pump(self) -> None:
        while self._waiting:
            if self._idle:
                conn = self._idle.pop()
                if conn.closed:
                    self._forget(conn)
                    continue
                self._send(conn, self._waiting.popleft())
            elif self._open < self.limit:
                self._open += 1
                self._loop.create_task(self._connect(self._waiting.popleft()))
            else:
                return

    async def _connect(self, request: _Request) -> None:
        try:
            _, conn = await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: Connection(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                ),
                self.client.timeout,
            )
        except TimeoutError:
            self._open -= 1
            self._fail(request, httpx.ConnectTimeout("timed out connecting"))
            self._pump()
            return
        except Exception as exc:  # refused, unreachable, DNS, TLS handshake (OSError), ...
            self._open -= 1
            self._fail(request, httpx.ConnectError(str(exc) or type(exc).__name__))
            self._pump()
            return
        self._send(conn, request)

    def _send(self, conn: Connection, request: _Request) -> None:
        raw = self._lines.get(request.upstream)
        if raw is None:
            # A job is asked about every few seconds: its request is made once and kept.
            if len(self._lines) >= MAX_KEPT_REQUESTS:
                self._lines.clear()
            line = b"GET " + (self._prefix + _seg(request.upstream)).encode() + self._head_tail
            raw = self._lines[request.upstream] = line
        request.timer = self._loop.call_later(self.client.timeout, self._timed_out, conn, request)
        conn.send(request, raw)

    def _forget(self, conn: Connection) -> None:
        if conn.counted:
            conn.counted = False
            self._open -= 1

    def _release(self, conn: Connection, request: _Request) -> None:
        conn.request = None
        if request.timer is not None:
            request.timer.cancel()

    def _answered_on(self, conn: Connection, response: Response) -> None:
        request = conn.request
        assert request is not None
        self._release(conn, request)
        if response.keep_alive and not conn.closed:
            self._idle.append(conn)
        else:
            self._forget(conn)
            conn.abort()
        try:
            self._finish(request, response)
        except Exception as exc:  # a bug must not lose the job: its answer is an error
            logger.exception("Reading the status of %s failed", request.upstream)
            error = ViggleError(str(exc) or "poll failed", retryable=True)
            self._deliver(request.done, (request.key, None, error, time.time()))
        self._pump()

    def _failed_on(self, conn: Connection, exc: httpx.HTTPError) -> None:
        request = conn.request
        self._forget(conn)
        conn.request = None
        conn.abort()
        if request is not None:
            self._release(conn, request)
            self._fail(request, exc)
        self._pump()

    def _lost(self, conn: Connection, request: _Request | None) -> None:
        """The connection closed with no (whole) answer: while idle, or under a request."""
        self._forget(conn)
        if conn in self._idle:
            self._idle.remove(conn)
            return
        if request is None:
            return  # we let it go ourselves
        self._release(conn, request)
        conn.request = None
        if request.reused and not conn.buf:
            # A kept connection the server had closed: nothing was read, so ask again at once.
            request.reused = False
            self._waiting.appendleft(request)
        else:
            self._fail(request, httpx.RemoteProtocolError("Server disconnected"))
        self._pump()

    def _timed_out(self, conn: Connection, request: _Request) -> None:
        if conn.request is request:
            self._failed_on(conn, httpx.ReadTimeout("timed out"))

    # --- answers ---------------------------------------------------------------------------

    def _finish(self, request: _Request, response: Response) -> None:
        client = self.client
        failure: ViggleError | None = None
        if 200 <= response.status < 300:
            body = response.body
            data: Any = None
            if response.status == 204 or not body.strip():
                data = {}
            else:
                try:
                    data = json.loads(body)
                except ValueError:
                    failure = ViggleError(
                        "Viggle sent a malformed JSON answer",
                        status=response.status,
                        code=MALFORMED,
                        retryable=True,
                    )
            if failure is None:
                try:
                    status = client._parse(
                        lambda d: RenderStatus.from_json(d, job_id=request.upstream), data
                    )
                except ViggleError as exc:
                    failure = exc
                else:
                    self._deliver(request.done, (request.key, status, None, time.time()))
                    return
        else:
            # The body is decoded already: the client reads it as httpx would have given it.
            headers = [
                (name, value)
                for name, value in response.headers
                if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
            ]
            as_httpx = httpx.Response(response.status, headers=headers, content=response.body)
            failure = client._status_failure(as_httpx, idempotent=True).error
        self._retry_or_give_up(request, failure)

    def _fail(self, request: _Request, exc: httpx.HTTPError) -> None:
        self._retry_or_give_up(request, self.client._transport_failure(exc, idempotent=True).error)

    def _retry_or_give_up(self, request: _Request, error: ViggleError) -> None:
        client = self.client
        delay = None
        if error.retryable and request.attempt < client.max_retries:
            path = _path_for_log(self._prefix.lstrip("/") + _seg(request.upstream))
            delay = client._retry_delay(error, request.attempt, f"Viggle GET /{path}")
        if delay is None:
            self._deliver(request.done, (request.key, None, error, time.time()))
            return
        request.attempt += 1
        request.reused = False
        self._loop.call_later(delay, self._start_many, [request])

    def _deliver(self, done: Done, result: Result) -> None:
        """Answers arriving within HAND_OVER_SECONDS go to ``done`` as one list."""
        pending = self._out.get(done)
        if pending is None:
            self._out[done] = [result]
            self._loop.call_later(HAND_OVER_SECONDS, self._hand_over, done)
        else:
            pending.append(result)

    def _hand_over(self, done: Done) -> None:
        results = self._out.pop(done, [])
        try:
            done(results)
        except Exception:
            logger.exception("A status answer's receiver failed")
