"""django-q2 tasks of the gallery: thin, they take an id and call a service."""

from __future__ import annotations

from viggle_web.assets import services


def resource_submit(resource_id: int) -> None:
    services.resource_submit(resource_id=resource_id)
