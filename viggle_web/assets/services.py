"""Writes on the gallery: uploads, edits, deletes, and Viggle preprocessing of assets.

Rules that matter:
- an upload is judged by its content (media.probe) against Viggle's limits before anything is
  stored; a refusal leaves no row and no file;
- one asset per content (SHA-256): a duplicate upload returns the existing asset;
- an asset that a render used is archived, never deleted (renders keep their history);
- upstream calls happen in tasks; claims are conditional UPDATEs so two workers never act on one
  resource at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from viggle_web.accounts.models import User
from viggle_web.assets import media, signals
from viggle_web.assets.models import Asset, Tag, ViggleResource
from viggle_web.assets.selectors import asset_is_used
from viggle_web.core import leases
from viggle_web.core.audit import audit_record
from viggle_web.core.messages import public_message
from viggle_web.usage.services import (
    budget_enforce,
    credit_charge_character,
    credit_charge_template,
    credit_release_template,
)
from viggle_web.viggle.types import Upload

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 60  # a poll that takes longer than this is presumed dead and claimed again
SUBMIT_CLAIM_SECONDS = 15 * 60  # an upload of up to 500 MB may take a while
MAX_TAGS = 12
SCENE_MODELS = ("V4_Preview", "V3_Preview")
ACTIVE = (ViggleResource.Status.PENDING, ViggleResource.Status.PROCESSING)


class UploadRefused(Exception):
    """An upload that was not stored. ``message`` names the file and says why; ``code`` is
    Viggle's error code for the refusal (what the API for scripts answers)."""

    def __init__(self, filename: str, reason: str, code: str = media.VALIDATION) -> None:
        self.filename = filename
        self.reason = reason
        self.code = code
        self.message = f"{filename} was not added: {reason}."
        super().__init__(self.message)


class AssetActionRefused(Exception):
    """A gallery action that cannot happen; ``message`` is for the member."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class UploadResult:
    asset: Asset
    created: bool
    restored: bool = False

    @property
    def message(self) -> str:
        if self.created:
            return f"{self.asset.original_filename} was added as “{self.asset.name}”."
        if self.restored:
            return f"The gallery already had this file as “{self.asset.name}” (archived): restored."
        return f"The gallery already has this file as “{self.asset.name}”."


# --- Uploads -------------------------------------------------------------------------------------


def _display_filename(upload: UploadedFile) -> str:
    return os.path.basename(upload.name or "file").strip()[:255] or "file"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks(chunk_size=1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def asset_create(*, user: User, upload: UploadedFile, name: str = "") -> UploadResult:
    """Validate ``upload`` by content, then store it with its preview, once per content."""
    filename = _display_filename(upload)
    limit = settings.MAX_UPLOAD_BYTES
    if upload.size is None or upload.size > limit:
        raise UploadRefused(
            filename,
            f"it is {_megabytes(upload.size or 0)}; the limit is {_megabytes(limit)}",
            media.FILE_TOO_LARGE,
        )
    if upload.size == 0:
        raise UploadRefused(filename, "it is empty", media.VIDEO_UNREADABLE)

    digest = _sha256(upload)
    existing = _existing(digest)
    if existing is not None:
        return existing

    source: media.Source
    if hasattr(upload, "temporary_file_path"):
        source = upload.temporary_file_path()
        with open(source, "rb") as fh:
            head = fh.read(64)
    else:
        source = upload.file
        source.seek(0)
        head = source.read(64)
    try:
        probe = media.probe(source, head)
        if probe.kind == Asset.Kind.IMAGE:
            preview = media.image_thumbnail(source)
        else:
            preview = media.video_poster(source, at_seconds=min(1.0, probe.duration_seconds / 3))
    except media.MediaRejected as exc:
        raise UploadRefused(filename, exc.reason, exc.code)

    stem = os.path.splitext(filename)[0] or filename
    asset = Asset(
        kind=probe.kind,
        name=(name.strip() or stem)[:200],
        original_filename=filename,
        content_type=probe.content_type,
        sha256=digest,
        size_bytes=upload.size,
        width=probe.width,
        height=probe.height,
        duration_seconds=probe.duration_seconds,
        fps=probe.fps,
        uploaded_by=user,
    )
    saved: list[str] = []
    try:
        with transaction.atomic():
            upload.seek(0)
            asset.file.save(f"upload.{probe.extension}", upload, save=False)
            saved.append(asset.file.name)
            asset.preview.save("preview.jpg", ContentFile(preview), save=False)
            saved.append(asset.preview.name)
            asset.save()
    except IntegrityError:
        # The same content arrived concurrently and won the unique sha256: keep theirs.
        _delete_files(saved)
        found = _existing(digest)
        if found is None:
            raise
        return found
    except BaseException:
        _delete_files(saved)
        raise
    return UploadResult(asset=asset, created=True)


def _existing(digest: str) -> UploadResult | None:
    asset = Asset.objects.filter(sha256=digest).first()
    if asset is None:
        return None
    if asset.archived_at is not None:
        Asset.objects.filter(pk=asset.pk).update(archived_at=None)
        asset.archived_at = None
        return UploadResult(asset=asset, created=False, restored=True)
    return UploadResult(asset=asset, created=False)


def _delete_files(names: list[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)


# --- Edits ---------------------------------------------------------------------------------------


def asset_can_change(*, asset: Asset, user: User) -> bool:
    """The gallery is shared for viewing; renaming, tagging and deleting belong to the member
    who uploaded the asset and to admins."""
    return user.may_manage(asset.uploaded_by_id)


def asset_rename(*, asset: Asset, name: str) -> Asset:
    name = name.strip()
    if not name:
        raise AssetActionRefused("A name cannot be empty.")
    asset.name = name[:200]
    asset.save(update_fields=["name"])
    return asset


def parse_tag_names(text: str) -> list[str]:
    """'Dance, hero  ,dance' -> ['dance', 'hero']: lower case, unique, in order."""
    names: list[str] = []
    for raw in text.replace("#", " ").split(","):
        name = " ".join(raw.split()).lower()
        if not name:
            continue
        if len(name) > 40:
            raise AssetActionRefused(f"The tag “{name[:40]}…” is longer than 40 characters.")
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise AssetActionRefused(f"An asset can have at most {MAX_TAGS} tags.")
    return names


@transaction.atomic
def asset_tags_set(*, asset: Asset, names: list[str]) -> Asset:
    tags = []
    for name in names:
        tag, _ = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    asset.tags.set(tags)
    return asset


def asset_favourite_toggle(*, asset: Asset, user: User) -> bool:
    """Star or unstar ``asset`` for ``user``; returns whether it is now a favourite."""
    through = Asset.favourited_by.through
    deleted, _ = through.objects.filter(asset_id=asset.pk, user_id=user.pk).delete()
    if deleted:
        return False
    through.objects.get_or_create(asset_id=asset.pk, user_id=user.pk)
    return True


@transaction.atomic
def asset_delete(*, asset: Asset, actor: User | None = None, audit: bool = True) -> str:
    """Delete ``asset`` and its files, or archive it if a render used it (renders keep their
    inputs for history). Returns "archived" or "deleted"."""
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    target = f"{asset.get_kind_display()} “{asset.name}” (#{asset.pk})"
    if asset_is_used(asset=asset):
        if asset.archived_at is None:
            asset.archived_at = timezone.now()
            asset.save(update_fields=["archived_at"])
            audit_record(actor=actor, action="asset_archived", target=target)
        return "archived"
    names = [asset.file.name, asset.preview.name]
    try:
        with transaction.atomic():
            asset.delete()
    except ProtectedError:
        # A render took it between the check and the delete: keep it after all.
        asset.archived_at = timezone.now()
        asset.save(update_fields=["archived_at"])
        audit_record(actor=actor, action="asset_archived", target=target)
        return "archived"
    if audit:
        audit_record(actor=actor, action="asset_deleted", target=target)
    # Files go only once the row is surely gone.
    transaction.on_commit(lambda: _delete_files(names))
    return "deleted"


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
    _announce(resource_id, status)
    ViggleResource.objects.filter(pk=resource_id).update(
        status=status,
        error_message=public_message(message),
        lease_until=None,
        lease_owner="",
        next_poll_at=None,
        updated_at=timezone.now(),
    )


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


# --- Template import -----------------------------------------------------------------------------

_UUID = re.compile(
    r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE
)
TEMPLATE_LINK_HELP = (
    "Paste the template's link from viggle.ai (https://viggle.ai/…) or its id "
    "(like 3f2b8c1e-5d4a-4b6f-9e21-7c0d1a2b3c4d)."
)


def template_id_parse(text: str) -> str:
    """The template id in what a member pastes: the bare id, or a viggle.ai link holding it.
    Raises AssetActionRefused (before anything is sent anywhere) for anything else."""
    text = (text or "").strip()
    if not text:
        raise AssetActionRefused("A template link or id is needed. " + TEMPLATE_LINK_HELP)
    if _UUID.fullmatch(text):
        return str(uuid.UUID(text))
    candidate = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").lower()
    except ValueError:
        host, parts = "", None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not (host == "viggle.ai" or host.endswith(".viggle.ai"))
    ):
        raise AssetActionRefused(
            "That is not a viggle.ai template link or id. " + TEMPLATE_LINK_HELP
        )
    found = {str(uuid.UUID(m)) for m in _UUID.findall(f"{parts.path}?{parts.query}")}
    if len(found) != 1:
        raise AssetActionRefused(
            "That viggle.ai link does not name one template. " + TEMPLATE_LINK_HELP
        )
    return found.pop()


def template_import_cost() -> int:
    """What an import is held against budgets before the call (Viggle tells the real amount,
    ``credits_reserved``, only in its answer; the difference is booked then)."""
    return int(settings.VIGGLE_TEMPLATE_IMPORT_CREDITS)


def template_default_name() -> str:
    return f"Template of {timezone.localtime():%-d %b %Y %H:%M}"


def _live_template(template_id: str) -> Asset | None:
    return Asset.objects.filter(
        kind=Asset.Kind.TEMPLATE, template_id=template_id, archived_at__isnull=True
    ).first()


def asset_import_template(*, user: User, template_id: str, name: str = "") -> tuple[Asset, bool]:
    """Import a viggle.ai template (an id or a link) as a gallery asset with its scene. Returns
    (asset, created); a template already in the gallery is returned as is.

    Like a render: the cost is checked against the member's and the organisation's budget and
    held in the ledger in one transaction under their row locks, before any upstream call, so
    parallel imports cannot overshoot a budget. The import is then followed like any
    preprocessing (resource_poll_due) until Viggle reports it ready with its clip's length, or
    failed (the hold is released). Raises AssetActionRefused (bad input), BudgetExceeded, or
    ViggleError (Viggle refused: nothing stays booked)."""
    from viggle_web.viggle.client import get_client

    template_id = template_id_parse(template_id)
    name = " ".join((name or "").split())[:200] or template_default_name()
    existing = _live_template(template_id)
    if existing is not None:
        return existing, False
    cost = template_import_cost()
    with transaction.atomic():
        # Locks the member's row and the organisation's budget row until this commits: a
        # second import (any member's) waits here, then sees this hold.
        budget_enforce(user=user, credits=cost)
        existing = _live_template(template_id)
        if existing is not None:
            return existing, False
        asset = Asset.objects.create(
            kind=Asset.Kind.TEMPLATE, name=name, template_id=template_id, uploaded_by=user
        )
        resource = ViggleResource.objects.create(
            asset=asset,
            kind=ViggleResource.Kind.SCENE,
            model="",
            status=ViggleResource.Status.PENDING,
            requested_by=user,
        )
        subject = f"template:{asset.pk}"
        credit_charge_template(
            user=user, subject=subject, credits=cost, note=f"template {template_id}: held"
        )
    try:
        result = get_client().template_import(template_id=template_id, name=name)
    except BaseException as exc:
        # Refused (or no answer): nothing of ours stays. An import that Viggle may have started
        # without answering is not ours to follow: we have no id for it.
        reason = getattr(exc, "human_message", "") or type(exc).__name__
        with transaction.atomic():
            credit_release_template(user=user, subject=subject, reason=f"import refused: {reason}")
            asset.delete()
        raise
    status = _status(result.status)
    if status == ViggleResource.Status.READY:
        status = ViggleResource.Status.PROCESSING  # ready, but its length is read by a poll
    with transaction.atomic():
        Asset.objects.filter(pk=asset.pk).update(
            segments=[{"uuid": s.uuid, "type": s.type} for s in result.segments]
        )
        reserved = result.credits_reserved
        if reserved is not None and int(reserved) != cost:
            credit_charge_template(
                user=user,
                subject=f"{subject}:adjust",
                credits=int(reserved) - cost,
                note=f"template {template_id}: Viggle reserved {int(reserved)}",
            )
        ViggleResource.objects.filter(pk=resource.pk).update(
            upstream_id=result.id,
            status=status,
            next_poll_at=timezone.now() + _poll_interval() if status in ACTIVE else None,
            updated_at=timezone.now(),
        )
        if status == ViggleResource.Status.FAILED:
            _template_failed(resource.pk, "Viggle could not import this template.")
            _announce(resource.pk, status)
    asset.refresh_from_db()
    return asset, True


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
