"""Server-Sent Events for live job status.

A page names the jobs it shows; the stream sends each job's freshly rendered fragment whenever
the job changes, as an SSE event named ``job-<public_id>`` that htmx's SSE extension swaps in
place. Catch-up: each event's id is the job's ``updated_at``; a reconnecting browser sends it back
(Last-Event-ID, or the page's ``since``) and gets every change after it.

Under ASGI (uvicorn, production) the stream is async and, on Postgres, woken by one shared
``LISTEN`` connection per process; on SQLite, or under a WSGI test server, it polls ``updated_at``
a few times a second (the query is a primary-key lookup of a handful of rows).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connection
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.dateparse import parse_datetime

from viggle_web.renders.models import RenderJob
from viggle_web.renders.selectors import jobs_for_display
from viggle_web.renders.services import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 0.25
MAX_STREAM_SECONDS = 300.0  # the browser reconnects and catches up
MAX_JOBS = 100

Renderer = Callable[[RenderJob], str]
Discover = Callable[[], QuerySet[RenderJob]]


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def format_event(job: RenderJob, html: str, *, name: str = "") -> str:
    data = "\n".join(f"data: {line}" for line in html.strip().splitlines() or [""])
    event = name or f"job-{job.public_id}"
    return f"id: {job.updated_at.isoformat()}\nevent: {event}\n{data}\n\n"


class JobStream:
    """The named jobs' changes; with ``discover`` (a list page), also every job that the page's
    filters would show and that was created after ``created_after`` (the page's time): each is
    sent once as a ``job-new`` event (the list prepends the row) and followed from then on."""

    def __init__(
        self,
        *,
        public_ids: list[str],
        since: datetime | None,
        render: Renderer,
        discover: Discover | None = None,
        created_after: datetime | None = None,
    ):
        self.public_ids = public_ids[:MAX_JOBS]
        self.since = since
        self.render = render
        self.discover = discover
        self.created_after = created_after

    def changed(self) -> list[str]:
        """Events for the jobs changed since the last one sent (synchronous: ORM + templates)."""
        jobs = jobs_for_display().filter(public_id__in=self.public_ids)
        if self.since is not None:
            jobs = jobs.filter(updated_at__gt=self.since)
        events = []
        for job in jobs.order_by("updated_at"):
            events.append(format_event(job, self.render(job)))
            self._seen(job)
        if self.discover is not None and self.created_after is not None:
            room = MAX_JOBS - len(self.public_ids)
            fresh = (
                self.discover()
                .filter(created_at__gt=self.created_after)
                .exclude(public_id__in=self.public_ids)
                .order_by("created_at", "id")[: max(0, room)]
            )
            for job in fresh:
                self.public_ids.append(job.public_id)
                events.append(format_event(job, self.render(job), name="job-new"))
                self._seen(job)
        return events

    def _seen(self, job: RenderJob) -> None:
        self.since = job.updated_at if self.since is None else max(self.since, job.updated_at)

    # --- WSGI (and tests' live server): a plain generator --------------------------------------

    def iter_sync(self) -> Iterator[str]:
        yield "retry: 1000\n\n"
        started = time.monotonic()
        try:
            while time.monotonic() - started < MAX_STREAM_SECONDS:
                events = self.changed()
                close_old_connections()
                yield from events
                if not events:
                    # A WSGI server learns that the browser left only when a write fails: a
                    # comment on every quiet turn ends the stream (and its queries) within two
                    # turns of the tab closing, instead of polling on until the next heartbeat.
                    yield ":\n\n"
                time.sleep(POLL_SECONDS)
        finally:
            close_old_connections()

    # --- ASGI: async, woken by LISTEN on Postgres ----------------------------------------------

    async def iter_async(self) -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        wake = (
            await _listener.subscribe(self.public_ids, everything=self.discover is not None)
            if _use_listen()
            else None
        )
        changed = sync_to_async(self._changed_closing, thread_sensitive=False)
        started = last_beat = time.monotonic()
        try:
            for event in await changed():
                yield event
            while time.monotonic() - started < MAX_STREAM_SECONDS:
                if wake is not None:
                    try:
                        await asyncio.wait_for(wake.wait(), timeout=HEARTBEAT_SECONDS)
                    except TimeoutError:
                        pass
                    wake.clear()
                else:
                    await asyncio.sleep(POLL_SECONDS)
                for event in await changed():
                    yield event
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    yield ": ping\n\n"
        finally:
            if wake is not None:
                _listener.unsubscribe(wake)

    def response(self, request: HttpRequest) -> StreamingHttpResponse:
        """The SSE response, with the iterator that matches the server (Django buffers a sync
        iterator under ASGI and an async one under WSGI)."""
        is_async = isinstance(request, ASGIRequest)
        content = self.iter_async() if is_async else self.iter_sync()
        if is_async:
            # Authentication is done: give this request thread's connection back now, or every
            # open stream would hold one until it ends.
            connection.close()
        response = StreamingHttpResponse(content, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    def _changed_closing(self) -> list[str]:
        # Runs in a pool thread between waits: closing (not just recycling) the connection means
        # an idle stream holds none, whatever CONN_MAX_AGE says.
        try:
            return self.changed()
        finally:
            connection.close()


def _use_listen() -> bool:
    return connection.vendor == "postgresql"


# OPTIONS that Django (or psycopg's Python API) consumes itself: not libpq connection keywords.
_NOT_CONNINFO = {
    "pool",
    "isolation_level",
    "assume_role",
    "server_side_binding",
    "cursor_factory",
    "context",
    "prepare_threshold",
}


def listen_conninfo(db: dict) -> str:
    """The libpq connection string of the LISTEN connection: the same database, credentials and
    options (``sslmode``, ``sslrootcert``, ``connect_timeout``, ``options``, ...) as Django's
    own connections, all of which DATABASE_URL's query string puts in OPTIONS."""
    from psycopg.conninfo import make_conninfo

    options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k not in _NOT_CONNINFO}
    return make_conninfo(
        **{k: str(v) for k, v in options.items() if v is not None},
        dbname=db.get("NAME") or "",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=str(db.get("PORT") or "") or None,
    )


class _Listener:
    """One LISTEN connection per process, fanned out to the open streams. A notification's
    payload is the changed job's public id, so only the streams showing that job are woken
    (not every stream on every change: with many active jobs and many open pages that was
    streams x changes database queries; bench/poller.py part b)."""

    def __init__(self) -> None:
        self.waiters: dict[asyncio.Event, frozenset[str]] = {}
        self.by_job: dict[str, set[asyncio.Event]] = {}
        # List pages watching for new jobs: woken by every change (they cannot know the ids).
        self.everything: set[asyncio.Event] = set()
        self.task: asyncio.Task | None = None

    async def subscribe(
        self, public_ids: list[str] | None = None, *, everything: bool = False
    ) -> asyncio.Event:
        event = asyncio.Event()
        ids = frozenset(public_ids or ())
        self.waiters[event] = ids
        if everything:
            self.everything.add(event)
        for public_id in ids:
            self.by_job.setdefault(public_id, set()).add(event)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self.everything.discard(event)
        for public_id in self.waiters.pop(event, frozenset()):
            watchers = self.by_job.get(public_id)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self.by_job[public_id]

    async def _run(self) -> None:
        import psycopg

        conninfo = listen_conninfo(settings.DATABASES["default"])
        while self.waiters:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    # Wake everyone once on (re)connect: changes may have been missed.
                    self._wake_all()
                    async for notify in conn.notifies():
                        self._wake(notify.payload)
                        if not self.waiters:
                            return
            except Exception:
                logger.warning("LISTEN connection lost; reconnecting", exc_info=True)
                self._wake_all()
                await asyncio.sleep(1.0)

    def _wake(self, public_id: str) -> None:
        if not public_id:  # an unnamed change: anyone may be concerned
            self._wake_all()
            return
        for event in [*self.by_job.get(public_id, ()), *self.everything]:
            event.set()

    def _wake_all(self) -> None:
        for event in list(self.waiters):
            event.set()


_listener = _Listener()
