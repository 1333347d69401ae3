"""No database connection or connection pool crosses a fork.

django-q2 forks its workers, pusher and monitor from a sentinel process that has used the
database, and gunicorn forks web workers from its master (which has loaded the app with
``--preload``). A psycopg connection, or Django's psycopg pool (``DB_POOL=true``), inherited by
a child shares its socket with the parent and every sibling: their queries interleave on one
wire and answers go to the wrong process (renders got each other's files and ids). django-q2's
own ``connections.close_all()`` before forking only hands a pooled connection back to the pool,
which stays open.

So before any ``os.fork()`` of a process that loaded Django, this closes the forking thread's
connections and closes every pool (Django opens a new pool on next use, lazily). A child also
forgets whatever it still inherited (a connection held by another thread of the parent at the
moment of the fork) without closing it: closing would send the server a terminate message on
the parent's socket. Those objects are kept referenced so that garbage collection never
finalises them either.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

_installed = False
# Connections and pools a child inherited and must never use or finalise (see above).
_inherited: list[Any] = []


def _close_before_fork() -> None:
    from django.db import connections

    for alias in connections:
        wrapper = connections[alias]
        try:
            if not wrapper.in_atomic_block:
                wrapper.close()
            if alias in (getattr(type(wrapper), "_connection_pools", None) or {}):
                wrapper.close_pool()
        except Exception:  # never stop a fork; the child forgets what is left (below)
            logger.warning("Closing database connection %s before fork failed", alias)


def _forget_in_child() -> None:
    from django.db import connections

    for alias in connections:
        wrapper = connections[alias]
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            wrapper.connection = None
            wrapper.in_atomic_block = False
            wrapper.savepoint_ids = []
            wrapper.needs_rollback = False
        pools = getattr(type(wrapper), "_connection_pools", None)
        if pools:
            _inherited.extend(pools.values())
            pools.clear()


def install() -> None:
    """Register the fork hooks once per process (called from the core app's ready())."""
    global _installed
    if _installed:
        return
    os.register_at_fork(before=_close_before_fork, after_in_child=_forget_in_child)
    _installed = True
