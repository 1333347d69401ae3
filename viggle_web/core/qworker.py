"""Stopping the background worker (`manage.py qcluster`) promptly and cleanly.

django-q2 runs a main process, a sentinel, and forked workers, a pusher and a monitor.
Platforms stop a service by sending SIGTERM to every process of it at once (Procfile platforms;
systemd's default KillMode=control-group). django-q2's own handling then hung: the sentinel and
workers die at once (they keep SIGTERM's default action) while the main process signals the dead
sentinel through a shared event and waits forever, leaving a defunct child.

Here instead:

* the main process (our `qcluster` command, viggle_web/core/management/commands/qcluster.py)
  never waits on the sentinel: on SIGTERM or SIGINT it sends SIGTERM to every process of the
  cluster, waits up to ``WORKER_STOP_SECONDS`` for them, kills what is left and exits;
* a worker process that gets SIGTERM while idle exits at once; one running a task sets
  ``STOPPING`` (the render poll loop ends its turn, releasing its leases and its slot) and exits
  as soon as the task returns, or after ``WORKER_STOP_SECONDS`` at the latest. Whatever it did
  not finish is left to another worker: a job's lease runs out, a queued task is re-delivered.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# Set in a worker process once it has been asked to stop; long-running tasks check it.
STOPPING = threading.Event()
_busy = False


# --- worker processes ---------------------------------------------------------------------------


def _exit_when_task_done() -> None:
    deadline = time.monotonic() + settings.WORKER_STOP_SECONDS
    while _busy and time.monotonic() < deadline:
        time.sleep(0.05)
    if _busy:
        logger.warning("Worker %s stopped before its task finished", os.getpid())
    else:
        time.sleep(0.1)  # let django-q2 finish its bookkeeping for the task
    os._exit(0)


def _on_worker_sigterm(signum: int, frame: Any) -> None:
    if STOPPING.is_set():
        return
    STOPPING.set()
    if not _busy:
        os._exit(0)  # idle: waiting for a task, nothing in flight
    threading.Thread(target=_exit_when_task_done, name="stop-after-task", daemon=True).start()


def on_worker_spawn(sender: Any = None, **kwargs: Any) -> None:
    signal.signal(signal.SIGTERM, _on_worker_sigterm)


def on_task_start(sender: Any = None, **kwargs: Any) -> None:
    global _busy
    _busy = True


def on_task_end(sender: Any = None, **kwargs: Any) -> None:
    global _busy
    _busy = False


def connect_signals() -> None:
    """Hook the worker-process side into django-q2 (called from the core app's ready())."""
    from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

    post_spawn.connect(on_worker_spawn, dispatch_uid="viggle-worker-spawn")
    pre_execute.connect(on_task_start, dispatch_uid="viggle-task-start")
    post_execute_in_worker.connect(on_task_end, dispatch_uid="viggle-task-end")


# --- long-running loops of the main process ------------------------------------------------------

# Registered by higher apps in their AppConfig.ready (core imports none of them): each is called
# with a stop Event and runs until it is set. The render poller is one (renders/apps.py).
_main_loops: list[tuple[str, Callable[[threading.Event], object]]] = []


def main_loop_register(name: str, loop: Callable[[threading.Event], object]) -> None:
    if name not in {n for n, _ in _main_loops}:
        _main_loops.append((name, loop))


def _run_forever(
    name: str, loop: Callable[[threading.Event], object], stop: threading.Event
) -> None:
    """Run ``loop`` until ``stop``; a loop that crashes is logged and started again."""
    while not stop.is_set():
        try:
            loop(stop)
        except Exception:
            logger.exception("The %s loop crashed; starting it again", name)
            stop.wait(1.0)


def main_loops_start(stop: threading.Event) -> list[threading.Thread]:
    """Start every registered loop in a thread of this (the cluster's main) process."""
    threads = []
    for name, loop in _main_loops:
        thread = threading.Thread(target=_run_forever, args=(name, loop, stop), name=name)
        thread.start()
        threads.append(thread)
    return threads


def main_loops_stop(stop: threading.Event, threads: list[threading.Thread]) -> None:
    """Ask the loops to stop and wait for them (they finish their turn) up to
    WORKER_STOP_SECONDS."""
    stop.set()
    deadline = time.monotonic() + settings.WORKER_STOP_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            logger.warning("The %s loop did not stop in time", thread.name)


# --- the main process ---------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) for every process, from /proc (Linux)."""
    table: dict[int, tuple[int, int, str]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def cluster_processes() -> set[int]:
    """This process's descendants, and the other members of its process group if it leads one
    (the sentinel may already be gone, its children handed to init)."""
    me = os.getpid()
    table = _processes()
    found: set[int] = set()
    frontier = [me]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
        found.update(children)
        frontier.extend(children)
    if os.getpgrp() == me:
        found.update(pid for pid, (_, pgrp, _) in table.items() if pgrp == me)
    found.discard(me)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def stop_cluster(*, sentinel: Any, known: set[int]) -> None:
    """Stop every process of the cluster within WORKER_STOP_SECONDS (plus a moment), never
    waiting on django-q2's shared events (a process killed while waiting on one blocks them)."""
    pids = known | cluster_processes()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + settings.WORKER_STOP_SECONDS + 1.0
    while time.monotonic() < deadline:
        if sentinel is not None:
            sentinel.join(timeout=0)  # reap it as soon as it exits
        if not any(_alive(pid) for pid in pids):
            break
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            logger.warning("Worker process %s did not stop in time; killing it", pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    if sentinel is not None:
        sentinel.join(timeout=5)
    if os.getpid() == 1:  # in a container: orphaned workers are ours to reap
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
