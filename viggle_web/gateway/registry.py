"""What apps above the gateway add to the API without the gateway importing them (they register
in their ``AppConfig.ready``; docs/architecture.md, "App dependency order"):

- ``render_field_register(name, fn)``: a field of ``GET /api/render/{id}``'s answer
  (exports adds ``exports``), ``fn(job, absolute) -> value``;
- ``download_kind_register(kind, fn)``: what a signed link of that kind points at
  (``fn(ident, which) -> (file, filename, content_type) | None``);
- ``view_register(name, view)``: the view behind a gateway route that another app serves
  (``render_exports``); the route and its name stay with
  the gateway's routes (``viggle_web/urls.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from viggle_web.gateway import errors
from viggle_web.renders.models import RenderJob

RenderField = Callable[[RenderJob, Callable[[str], str]], Any]
DownloadTarget = Callable[[str, str], tuple[FieldFile, str, str] | None]

_render_fields: dict[str, RenderField] = {}
_download_kinds: dict[str, DownloadTarget] = {}
_views: dict[str, Callable[..., HttpResponse]] = {}


def render_field_register(name: str, fn: RenderField) -> None:
    _render_fields[name] = fn


def render_fields() -> dict[str, RenderField]:
    return dict(_render_fields)


def download_kind_register(kind: str, fn: DownloadTarget) -> None:
    _download_kinds[kind] = fn


def download_target(kind: str) -> DownloadTarget | None:
    return _download_kinds.get(kind)


def view_register(name: str, view: Callable[..., HttpResponse]) -> None:
    _views[name] = view


def registered_view(name: str) -> Callable[..., HttpResponse]:
    """A view for a gateway route that serves what another app registered under ``name``
    (the registered view does its own authentication, as every API view does)."""

    @csrf_exempt
    @login_not_required
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        target = _views.get(name)
        if target is None:
            return errors.error_response(errors.ApiError(errors.NOT_FOUND, "Not found"))
        return target(request, *args, **kwargs)

    view.__name__ = name
    return view
