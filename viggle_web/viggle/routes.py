"""The Viggle API's documented paths (shared/docs/viggle-api.md), written once.

Two servers answer them: the app's Viggle-compatible gateway (mounted under ``/api/``, ids are
our public ids) and the simulator (at its root under ``api/``, ids are its own). Each URL conf
calls :func:`api_routes` with the module that holds its views, so neither can drift from the
documented paths or the other's names; a view missing from the module fails at import.
"""

from __future__ import annotations

from types import ModuleType

from django.urls import URLPattern, path

# (path with "{id}" where an id converter goes, URL and view name)
API_PATHS: tuple[tuple[str, str], ...] = (
    ("render", "render_create"),
    ("render/<{id}:job_id>", "render_detail"),
    ("characters", "character_list"),
    ("characters/preprocess", "character_preprocess"),
    ("characters/<{id}:character_id>", "character_detail"),
    ("scenes", "scene_list"),
    ("scenes/preprocess", "scene_preprocess"),
    ("scenes/import", "scene_import"),
    ("scenes/<{id}:scene_id>", "scene_detail"),
    ("credits", "credits"),
)


def api_routes(
    views: ModuleType, *, prefix: str = "", id_converter: str = "str"
) -> list[URLPattern]:
    """One URL pattern per documented path, each served by the view of the same name."""
    return [
        path(prefix + route.format(id=id_converter), getattr(views, name), name=name)
        for route, name in API_PATHS
    ]
