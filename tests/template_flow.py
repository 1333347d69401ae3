"""Templates and Viggle characters made the way production makes them: through the real services
(asset_create, resource_request, resource_submit, asset_import_template) against the simulator
over HTTP, then followed by the real poller (renders.poller.run_loop) until Viggle reports them
ready. No test writes a duration, a status or a people list of its own."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from viggle_web.accounts.models import User
from viggle_web.assets import services
from viggle_web.assets.models import Asset, ViggleResource


def follow_preprocessing(*, timeout: float = 30.0) -> None:
    """Run the worker's poller until nothing sent to Viggle is in progress."""
    from viggle_web.renders import poller

    deadline = time.monotonic() + timeout
    active = ViggleResource.objects.filter(status__in=services.ACTIVE).exclude(upstream_id="")
    while active.exists():
        assert time.monotonic() < deadline, list(active.values("asset_id", "status"))
        poller.run_loop(seconds=1.0)


def upload(*, user: User, path: Path, name: str = "") -> Asset:
    data = path.read_bytes()
    return services.asset_create(
        user=user, upload=SimpleUploadedFile(path.name, data), name=name
    ).asset


def prepare_character(*, user: User, path: Path, name: str) -> Asset:
    """An uploaded image made into a ready Viggle character (1 credit, booked to ``user``)."""
    asset = upload(user=user, path=path, name=name)
    resource = services.resource_request(asset=asset, user=user)
    services.resource_submit(resource_id=resource.pk)  # the worker's task
    follow_preprocessing()
    return _fresh(asset)


def import_template(
    *, user: User, sim, people: int = 2, name: str = "Group dance", template_id: str = ""
) -> Asset:
    """A viggle.ai template imported from the simulator and followed until ready."""
    sim.set(template_people=people)
    asset, created = services.asset_import_template(
        user=user, template_id=template_id or str(uuid.uuid4()), name=name
    )
    assert created
    follow_preprocessing()
    asset = _fresh(asset)
    assert asset.scene_id("V4_Preview"), asset.viggle_resources.all()
    return asset


def _fresh(asset: Asset) -> Asset:
    return Asset.objects.prefetch_related("viggle_resources").get(pk=asset.pk)
