"""POST /api/batches: a batch through the API for scripts, token-authenticated like the rest of
/api/. The fields are the render's (docs/viggle-api.md) as lists: ``character_ids`` x
``scene_ids`` (our API ids), with ``model``, ``background_mode``, ``bg_color`` and ``fast``
shared; ``Idempotency-Key`` makes a retried request find the same batch."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse

from viggle_web.accounts.models import User
from viggle_web.batches import services
from viggle_web.batches.forms import check_key
from viggle_web.batches.models import Batch
from viggle_web.batches.selectors import batch_items
from viggle_web.gateway import errors
from viggle_web.gateway.errors import ApiError
from viggle_web.gateway.models import ApiObject
from viggle_web.gateway.payloads import iso, render_created
from viggle_web.gateway.services import object_get
from viggle_web.gateway.views import api_endpoint
from viggle_web.renders.models import RenderJob
from viggle_web.usage.services import BudgetExceeded
from viggle_web.viggle.colour import parse_bg_color

_TRUE = {"true", "1", "yes", "on"}


def _body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(errors.VALIDATION, "The JSON body could not be read")
        if not isinstance(body, dict):
            raise ApiError(errors.VALIDATION, "The JSON body must be an object")
        return body
    data: dict[str, Any] = {key: request.POST.get(key) for key in request.POST}
    for key in ("character_ids", "scene_ids"):
        # Repeated fields or one comma-separated value.
        data[key] = [v for raw in request.POST.getlist(key) for v in raw.split(",") if v.strip()]
    return data


def _ids(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ApiError(errors.VALIDATION, f"{name} must be a non-empty list of ids")
    if len(value) > services.batch_max():
        raise ApiError(errors.VALIDATION, f"{name} may hold at most {services.batch_max()} ids")
    return [v.strip() for v in value]


def _choice(body: dict[str, Any], name: str, choices: list[str], default: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise ApiError(errors.VALIDATION, f"{name} must be one of: {', '.join(choices)}")
    return value


def _options(body: dict[str, Any]) -> services.BatchOptions:
    background = _choice(
        body, "background_mode", RenderJob.Background.values, RenderJob.Background.ORIGINAL
    )
    try:
        colour = parse_bg_color(
            body.get("bg_color") if isinstance(body.get("bg_color"), str) else None
        )
    except ValueError as exc:
        raise ApiError(errors.BAD_BACKGROUND, str(exc))
    fast = body.get("fast")
    return services.BatchOptions(
        model=_choice(body, "model", RenderJob.Model.values, RenderJob.Model.V4),
        background_mode=background,
        bg_color=colour if background == RenderJob.Background.SOLID else "",
        fast=fast is True or (isinstance(fast, str) and fast.lower() in _TRUE),
    )


def batch_payload(batch: Batch) -> dict[str, Any]:
    return {
        "batch_id": batch.public_id,
        "created_at": iso(batch.created_at),
        "credits_charged": batch.estimate_credits,
        "jobs": [render_created(item.job) for item in batch_items(batch)],
    }


@api_endpoint(methods=("POST",))
def batch_create(request: HttpRequest, user: User) -> HttpResponse:
    body = _body(request)
    key = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
    try:
        key = check_key(key)
    except ValidationError:
        raise ApiError(errors.VALIDATION, "Idempotency-Key must be 8-64 letters, digits, - or _")
    characters = [
        object_get(user=user, kind=ApiObject.Kind.CHARACTER, public_id=i).asset
        for i in _ids(body, "character_ids")
    ]
    scenes = [
        object_get(user=user, kind=ApiObject.Kind.SCENE, public_id=i).asset
        for i in _ids(body, "scene_ids")
    ]
    options = _options(body)
    try:
        batch = services.batch_submit(
            owner=user,
            idempotency_key=f"api-{user.pk}-{key}",
            characters=characters,
            motions=scenes,
            options=options,
            source=Batch.Source.API,
        )
    except BudgetExceeded as exc:
        raise ApiError(errors.BUDGET_EXCEEDED, exc.message)
    except ValidationError as exc:  # the batch's refusal or one of its renders'
        raise ApiError(errors.VALIDATION, " ".join(exc.messages))
    return JsonResponse(batch_payload(batch))
