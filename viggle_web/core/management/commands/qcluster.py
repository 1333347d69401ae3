"""`manage.py qcluster`: django-q2's cluster plus the long-running loops (the render poller),
stopped promptly on SIGTERM/SIGINT.

Replaces django-q2's command of the same name (this app is listed before django_q). The cluster
starts as django-q2 starts it; stopping is ours (viggle_web/core/qworker.py): django-q2's
main process could wait forever on a sentinel that the same SIGTERM had already killed.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as QClusterCommand

from viggle_web.core import qworker


class Command(QClusterCommand):
    help = "Starts the background worker (a django-q2 cluster); SIGTERM stops it in seconds."

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 - django-q2 signs tasks with it: fail early without
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = Cluster()
        requested = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            requested.set()

        # After Cluster() (which installs django-q2's handlers); the sentinel sets its own.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            cluster.start()
        except RuntimeError:
            if not requested.is_set():
                raise  # the sentinel died on its own, not because we were asked to stop
        if options.get("run_once"):
            cluster.stop()
            return
        # The long-running loops (the poller) run in this process, after the fork of the
        # sentinel, for the worker's whole life.
        stop_loops = threading.Event()
        loops = qworker.main_loops_start(stop_loops)
        known: set[int] = set()
        ticks = 0
        while not requested.is_set() and cluster.sentinel.is_alive():
            # Remember the cluster's processes: once the sentinel is gone, its children are
            # handed to init and can no longer be found as ours. Every 2 s: reading /proc costs
            # the poller's process CPU.
            if ticks % 4 == 0:
                known = qworker.cluster_processes()
            ticks += 1
            requested.wait(0.5)
        # The loops first: they finish their turn, write what they learnt and free their leases.
        qworker.main_loops_stop(stop_loops, loops)
        qworker.stop_cluster(sentinel=cluster.sentinel, known=known)
