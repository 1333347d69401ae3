"""The simulator's status GET made cheap (issue 18): the poller's load test needs it to answer
hundreds of ``GET /api/render/{id}`` a second on a shared 2-core machine, so that the bench
measures the worker, not the stand-in.

* ``StatusFastPath`` wraps the WSGI application (``manage.py viggle_simulator``): while no
  fault is set, a status GET for a job that is running, failed or cancelled is answered here,
  from one query by primary key, without Django's middleware, URL resolver or ORM; the body is
  ``engine.job_payload``'s, as the view sends it. Anything else (a fault set, a job to settle or
  complete, another path) goes to Django as before.
* ``calls``: status GETs (logged once, with their answer) are buffered and written many rows per
  INSERT every ``FLUSH_SECONDS``; the control endpoint writes the buffer before it reads the log,
  and a call that is logged on arrival (every non-GET) writes it first, so ids keep the order of
  arrival and the log stays complete, with every call's own arrival time.
* ``faults``: the fault table, read at most every ``FAULT_CACHE_SECONDS`` (the control endpoint
  forgets the copy whenever it changes a fault, so a test's fault applies to its next request).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection
from django.utils import timezone

from viggle_web.simulator import engine
from viggle_web.simulator.models import SimCall, SimFault, SimJob

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
FAULT_CACHE_SECONDS = 0.5
PREFIX = "/api/render/"


_CALL_FIELDS = ("method", "path", "status", "authorized", "has_auth_header", "fault", "at")
CallRow = tuple[str, str, int | None, bool, bool, str, Any]


class _CallLog:
    """Buffered calls-log rows (status GETs), written in bulk (COPY on Postgres)."""

    def __init__(self) -> None:
        self._rows: list[CallRow] = []
        self._lock = threading.Lock()  # the buffer
        self._flushing = threading.Lock()  # one writer at a time: a flush returns when written
        self._thread: threading.Thread | None = None

    def add(self, call: SimCall) -> None:
        self.add_row(tuple(getattr(call, name) for name in _CALL_FIELDS))  # type: ignore[arg-type]

    def add_row(self, row: CallRow) -> None:
        with self._lock:
            self._rows.append(row)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sim-calls", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return
            try:
                _write(rows)
            except Exception:  # Django's or psycopg's own (COPY) database errors
                logger.exception("The simulator could not write %d calls-log rows", len(rows))
                connection.close()
                with self._lock:
                    self._rows[:0] = rows  # tried again with the next flush

    def discard(self) -> None:
        with self._flushing, self._lock:
            self._rows = []

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # the log must keep being written
                logger.exception("The simulator's calls-log writer failed")


def _write(rows: list[CallRow]) -> None:
    if connection.vendor != "postgresql":
        SimCall.objects.bulk_create(
            [SimCall(**dict(zip(_CALL_FIELDS, row, strict=True))) for row in rows], batch_size=500
        )
        return
    table = connection.ops.quote_name(SimCall._meta.db_table)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_CALL_FIELDS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


calls = _CallLog()


class _Faults:
    def __init__(self) -> None:
        self._faults: list[SimFault] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def all(self) -> list[SimFault]:
        now = time.monotonic()
        faults = self._faults
        if faults is None or now - self._read_at > FAULT_CACHE_SECONDS:
            faults = list(SimFault.objects.order_by("id"))
            with self._lock:
                self._faults, self._read_at = faults, now
        return faults

    def forget(self) -> None:
        with self._lock:
            self._faults = None


faults = _Faults()

_COLUMNS = [field.attname for field in SimJob._meta.concrete_fields]
# The identifiers come from the model; the id is a parameter.
_QUOTED = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
_TABLE = connection.ops.quote_name(SimJob._meta.db_table)
_SELECT = f"SELECT {_QUOTED} FROM {_TABLE} WHERE job_id = %s"  # noqa: S608
_converters: list[tuple[int, list[Any], Any]] | None = None


def _job_from(row: tuple[Any, ...]) -> SimJob:
    """The model from a raw row, with the backend's and the fields' converters (as the ORM)."""
    global _converters
    if _converters is None:
        found = []
        for i, field in enumerate(SimJob._meta.concrete_fields):
            col = field.get_col(SimJob._meta.db_table)
            convs = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if convs:
                found.append((i, convs, col))
        _converters = found
    values = list(row)
    for i, convs, col in _converters:
        for convert in convs:
            values[i] = convert(values[i], col, connection)
    return SimJob.from_db("default", _COLUMNS, values)


_ANSWERABLE = (SimJob.State.ACTIVE, SimJob.State.FAILED, SimJob.State.CANCELLED)


def _answerable(job: SimJob, now: Any) -> bool:
    """Whether the view would only read this job (nothing to settle, no URL to build)."""
    if job.state != SimJob.State.ACTIVE:
        return job.state in _ANSWERABLE
    frac = engine.fraction(job, now)
    return frac < 1.0 and not (job.will_fail and frac >= engine.FAIL_AT_FRACTION)


class StatusFastPath:
    """WSGI middleware: answers plain status GETs itself, passes everything else on."""

    def __init__(self, app: Callable[..., Iterable[bytes]], keys: Callable[[], list[str]]) -> None:
        self.app = app
        self.keys = keys

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and path.startswith(PREFIX):
            job_id = path[len(PREFIX) :]
            if job_id and "/" not in job_id:
                try:
                    body = self._answer(environ, path, job_id)
                except Exception:  # Django's path answers (and logs) whatever this missed
                    logger.exception("The simulator's status fast path failed")
                    body = None
                if body is not None:
                    start_response(
                        "200 OK",
                        [
                            ("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))),
                        ],
                    )
                    return [body]
        return self.app(environ, start_response)

    def _answer(self, environ: dict[str, Any], path: str, job_id: str) -> bytes | None:
        arrived = timezone.now()
        try:
            if faults.all():
                return None  # the view applies them
            if connection.vendor == "postgresql":  # psycopg itself: no Django cursor wrapper
                connection.ensure_connection()
                row = connection.connection.execute(_SELECT, [job_id]).fetchone()
            else:
                with connection.cursor() as cursor:
                    cursor.execute(_SELECT, [job_id])
                    row = cursor.fetchone()
        except Exception:  # Django's or psycopg's database errors
            connection.close()  # Django's path reconnects (and says what is wrong)
            return None
        if row is None:
            return None
        job = _job_from(row)
        now = timezone.now()
        if not _answerable(job, now):
            return None
        body = json.dumps(engine.job_payload(job, None, now)).encode()
        header = environ.get("HTTP_AUTHORIZATION")
        key = header[7:].strip() if header and header.lower().startswith("bearer ") else None
        authorized = bool(key) and key in self.keys()
        calls.add_row(("GET", path, 200, authorized, header is not None, "", arrived))
        return body
