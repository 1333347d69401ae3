"""Serve only the Viggle simulator, at the root: base URL http://HOST:PORT (bin/run uses it)."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.core.servers.basehttp import WSGIServer, run
from django.core.wsgi import get_wsgi_application


class Command(BaseCommand):
    help = "Serve the local Viggle API simulator (development only) on its own port."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if not settings.VIGGLE_SIMULATOR_ENABLED:
            self.stderr.write("The simulator is off (VIGGLE_SIMULATOR_ENABLED=false).")
            raise SystemExit(2)
        # Keep each server thread's database connection for the life of its HTTP connection
        # (the server closes it when the client hangs up): a status GET then costs its queries,
        # not a new Postgres connection each (bench/poller.py).
        from django.db import connections

        # Checked before each request's first query, so a database restart costs one reconnect,
        # not an error on every thread's kept connection.
        for options in (connections.settings["default"], settings.DATABASES["default"]):
            options["CONN_MAX_AGE"] = None
            options["CONN_HEALTH_CHECKS"] = True
        # This process serves nothing else, so the simulator's routes become the root.
        settings.ROOT_URLCONF = "viggle_web.simulator.root_urls"
        if host not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
        self.stdout.write(f"Viggle simulator on http://{host}:{port} (Ctrl-C stops it)")
        self.stdout.flush()
        # Django's threaded WSGI server: a thread per connection; Django spools uploads to temp
        # files (FILE_UPLOAD_MAX_MEMORY_SIZE), so big videos never sit in memory.
        from viggle_web.simulator.engine import render_ahead_forever
        from viggle_web.simulator.fastpath import StatusFastPath
        from viggle_web.simulator.views import accepted_keys

        # Outputs are made in the seconds before a job's end, not by the read at its end.
        threading.Thread(target=render_ahead_forever, name="sim-render", daemon=True).start()

        run(
            host,
            port,
            # Plain status GETs (the pollers' load) skip Django's stack: simulator/fastpath.py.
            StatusFastPath(get_wsgi_application(), accepted_keys),
            ipv6=":" in host,
            threading=True,
            server_cls=_Server,
        )


class _Server(WSGIServer):
    # A worker opens its POLLER_CONCURRENCY connections at once: with the default listen backlog
    # (10) most connects were dropped and retried a second or more later.
    request_queue_size = 1024
