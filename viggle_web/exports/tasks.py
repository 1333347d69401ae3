"""django-q2 tasks: thin, take an id, call a service."""

from __future__ import annotations

from viggle_web.exports import services
from viggle_web.renders.poller import worker_name


def export_make(export_id: int) -> None:
    services.export_make(export_id=export_id, owner=worker_name())
