"""What the gallery services share: limits, the refusal types and an upload's result."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from viggle_web.assets import media
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.core.errors import Refused

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 60  # a poll that takes longer than this is presumed dead and claimed again
SUBMIT_CLAIM_SECONDS = 15 * 60  # an upload of up to 500 MB may take a while
MAX_TAGS = 12
SCENE_MODELS = ("V4_Preview", "V3_Preview")
ACTIVE = (ViggleResource.Status.PENDING, ViggleResource.Status.PROCESSING)


class UploadRefused(Refused):
    """An upload that was not stored. ``message`` names the file and says why; ``code`` is
    Viggle's error code for the refusal (what the API for scripts answers)."""

    def __init__(self, filename: str, reason: str, code: str = media.VALIDATION) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename} was not added: {reason}.", code=code)


class AssetActionRefused(Refused):
    """A gallery action that cannot happen; ``message`` is for the member."""

    default_code = "asset_refused"


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
