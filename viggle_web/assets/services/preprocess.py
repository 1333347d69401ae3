"""Viggle preprocessing of gallery assets (characters, scenes per model): requested with its
credit booked, submitted by a task, polled by the worker's one poll loop under a lease."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets import media, signals
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.assets.services.common import (
    ACTIVE,
    CLAIM_SECONDS,
    SCENE_MODELS,
    SUBMIT_CLAIM_SECONDS,
    AssetActionRefused,
)
from viggle_web.core import leases
from viggle_web.core.messages import public_message
from viggle_web.usage.services import (
    budget_enforce,
    credit_charge_character,
    credit_release_template,
)
from viggle_web.viggle.types import Upload

logger = logging.getLogger(__name__)

# --- Viggle preprocessing ------------------------------------------------------------------------


def _poll_interval() -> timedelta:
    """Viggle's documented poll interval for characters and scenes (a setting, so the tests'
    20x-fast simulator is not polled at the real service's pace)."""
    return timedelta(seconds=settings.VIGGLE_PREPROCESS_POLL_SECONDS)


def _enqueue(func: str, *args: object) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


def _enqueue_submit(resource_id: int) -> None:
    transaction.on_commit(lambda: _enqueue("viggle_web.assets.tasks.resource_submit", resource_id))


@contextmanager
def asset_upload(asset: Asset) -> Iterator[Upload]:
    """The asset's stored file, opened for a streamed upload to Viggle (closed afterwards)."""
    with default_storage.open(asset.file.name, "rb") as fh:
        yield Upload(
            filename=f"asset-{asset.pk}.{media.EXTENSIONS.get(asset.content_type, 'bin')}",
            fileobj=fh,
            content_type=asset.content_type,
        )


def resource_request(*, asset: Asset, user: User, model: str = "") -> ViggleResource:
    """Ask for ``asset`` to be preprocessed: an image becomes a character (1 credit, booked to
    ``user``), a video a scene for ``model`` (free). A resource that exists and has not failed is
    returned as is; a failed one is tried again. Raises BudgetExceeded or AssetActionRefused."""
    if asset.archived_at is not None:
        raise AssetActionRefused("This asset is archived: it cannot be prepared again.")
    if asset.kind == Asset.Kind.IMAGE:
        kind, model = ViggleResource.Kind.CHARACTER, ""
    elif asset.kind == Asset.Kind.VIDEO:
        kind = ViggleResource.Kind.SCENE
        model = model or SCENE_MODELS[0]
        if model not in SCENE_MODELS:
            raise AssetActionRefused("Choose the V4 Preview or V3 Preview model.")
    else:
        raise AssetActionRefused("An imported template is prepared by Viggle already.")

    try:
        return _resource_request(asset=asset, user=user, kind=kind, model=model)
    except IntegrityError:
        # Asked twice at the same moment: the other request created it (and booked any credit).
        return ViggleResource.objects.get(asset=asset, kind=kind, model=model)


@transaction.atomic
def _resource_request(*, asset: Asset, user: User, kind: str, model: str) -> ViggleResource:
    resource = (
        ViggleResource.objects.select_for_update()
        .filter(asset=asset, kind=kind, model=model)
        .first()
    )
    if resource is not None and resource.status != ViggleResource.Status.FAILED:
        return resource
    if kind == ViggleResource.Kind.CHARACTER:
        budget_enforce(user=user, credits=1)
        credit_charge_character(
            user=user, subject=f"character:{asset.pk}", note=f"character of {asset.name}"
        )
    if resource is None:
        resource = ViggleResource.objects.create(
            asset=asset, kind=kind, model=model, requested_by=user
        )
    else:
        resource.status = ViggleResource.Status.PENDING
        resource.upstream_id = ""
        resource.error_message = ""
        resource.requested_by = user
        resource.next_poll_at = None
        resource.lease_until = None
        resource.save()
    _enqueue_submit(resource.pk)
    return resource


def _status(value: str) -> str:
    value = (value or "").lower()
    if value in ("ready", "complete", "completed"):
        return ViggleResource.Status.READY
    if value in ("failed", "error", "cancelled"):
        return ViggleResource.Status.FAILED
    if value == "pending":
        return ViggleResource.Status.PENDING
    return ViggleResource.Status.PROCESSING  # unknown values: still in progress (docs)


def resource_submit(*, resource_id: int) -> None:
    """Send a pending resource's file to Viggle (the worker's side of resource_request)."""
    from viggle_web.viggle.client import get_client
    from viggle_web.viggle.errors import ViggleError

    claimed = leases.lease_claim(
        ViggleResource.objects.filter(
            pk=resource_id, status=ViggleResource.Status.PENDING, upstream_id=""
        ),
        owner=f"submit:{uuid.uuid4().hex[:12]}",
        lease=timedelta(seconds=SUBMIT_CLAIM_SECONDS),
    )
    if not claimed:
        return  # done already, or another worker has it
    resource = ViggleResource.objects.select_related("asset").get(pk=resource_id)
    asset = resource.asset
    client = get_client()
    try:
        with asset_upload(asset) as upload:
            if resource.kind == ViggleResource.Kind.CHARACTER:
                result = client.character_preprocess(name=asset.name, image=upload)
            else:
                result = client.scene_preprocess(
                    name=asset.name, video=upload, model=resource.model
                )
    except ViggleError as exc:
        logger.info("preprocess of resource %s failed: %r", resource_id, exc)
        _finish(resource_id, ViggleResource.Status.FAILED, exc.human_message)
        return
    except OSError:
        logger.exception("file of asset %s could not be read", asset.pk)
        _finish(resource_id, ViggleResource.Status.FAILED, "The file could not be read.")
        return
    ViggleResource.objects.filter(pk=resource_id).update(
        upstream_id=result.id,
        status=_status(result.status),
        next_poll_at=timezone.now() + _poll_interval(),
        lease_until=None,
        lease_owner="",
        updated_at=timezone.now(),
    )


def _finish(resource_id: int, status: str, message: str = "") -> None:
    ViggleResource.objects.filter(pk=resource_id).update(
        status=status,
        error_message=public_message(message),
        lease_until=None,
        lease_owner="",
        next_poll_at=None,
        updated_at=timezone.now(),
    )
    # After the write: outside a transaction on_commit runs at once, and receivers read the row.
    _announce(resource_id, status)


def _announce(resource_id: int, status: str) -> None:
    """``signals.asset_changed`` once the caller's transaction commits (ready or failed)."""
    if status not in (ViggleResource.Status.READY, ViggleResource.Status.FAILED):
        return
    asset_id = ViggleResource.objects.values_list("asset_id", flat=True).get(pk=resource_id)
    transaction.on_commit(
        lambda: signals.asset_changed.send(
            ViggleResource, resource_id=resource_id, asset_id=asset_id, status=str(status)
        )
    )


def resource_claim_due(*, owner: str, limit: int = 200) -> list[int]:
    """Lease the due characters and scenes still being prepared (core.leases, the one lease):
    of two pollers asking at once each gets different ones."""
    rows = leases.lease_claim_due(
        ViggleResource.objects.filter(status__in=ACTIVE).exclude(upstream_id=""),
        owner=owner,
        lease=timedelta(seconds=CLAIM_SECONDS),
        limit=limit,
    )
    return [pk for (pk,) in rows]


def resource_poll_due(*, owner: str | None = None, limit: int = 200) -> int:
    """Claim the due resources and poll each once, here (the poller does the same in its
    threads). Returns how many were polled."""
    due = resource_claim_due(owner=owner or f"poll:{uuid.uuid4().hex[:12]}", limit=limit)
    for pk in due:
        resource_poll(resource_id=pk)
    return len(due)


def resource_poll(*, resource_id: int) -> None:
    """Ask Viggle about one claimed resource and record the answer (the lease is given back)."""
    from viggle_web.viggle.client import get_client
    from viggle_web.viggle.errors import ViggleError

    resource = ViggleResource.objects.select_related("asset").get(pk=resource_id)
    template = resource.asset.kind == Asset.Kind.TEMPLATE
    client = get_client()
    try:
        if resource.kind == ViggleResource.Kind.CHARACTER:
            answer = client.character_get(resource.upstream_id)
        else:
            answer = client.scene_get(resource.upstream_id)
    except ViggleError as exc:
        if exc.retryable:
            wait = max(_poll_interval().total_seconds(), exc.retry_after or 0)
            ViggleResource.objects.filter(pk=resource_id).update(
                next_poll_at=timezone.now() + timedelta(seconds=wait),
                lease_until=None,
                lease_owner="",
            )
        else:
            with transaction.atomic():
                _finish(resource_id, ViggleResource.Status.FAILED, exc.human_message)
                if template:
                    _template_failed(resource_id, exc.human_message)
        return
    status = _status(answer.status)
    if template:
        _record_template(resource.asset_id, answer)
    if status == ViggleResource.Status.FAILED:
        message = answer.error_message or "Viggle could not prepare this asset. Try another one."
        with transaction.atomic():
            _finish(resource_id, status, message)
            if template:
                _template_failed(resource_id, message)
    elif status == ViggleResource.Status.READY:
        _finish(resource_id, status)
    else:
        ViggleResource.objects.filter(pk=resource_id).update(
            status=status,
            next_poll_at=timezone.now() + _poll_interval(),
            lease_until=None,
            lease_owner="",
            updated_at=timezone.now(),
        )


def _template_failed(resource_id: int, message: str) -> None:
    """Within a transaction: a template import failed upstream; its hold goes back."""
    resource = ViggleResource.objects.select_related("asset", "requested_by").get(pk=resource_id)
    credit_release_template(
        user=resource.requested_by,
        subject=f"template:{resource.asset_id}",
        reason=f"import failed: {message}",
    )


def _record_template(asset_id: int, answer: object) -> None:
    """Record what Viggle says of an imported template's clip (and people, when it lists
    them)."""
    raw = getattr(answer, "raw", {}) or {}
    fields: dict[str, object] = {}
    for name in ("duration_seconds", "fps", "total_frames", "width", "height"):
        value = getattr(answer, name, None)
        if value is not None and value > 0:
            fields[name] = value
    segments = [
        {"uuid": str(s["uuid"]), "type": str(s.get("type") or "human")}
        for s in raw.get("segments") or []
        if isinstance(s, dict) and s.get("uuid")
    ]
    if segments:
        fields["segments"] = segments
    if fields:
        Asset.objects.filter(pk=asset_id, kind=Asset.Kind.TEMPLATE).update(**fields)
