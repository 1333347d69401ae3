"""Writes on the gallery, by concern: ``uploads``, ``edits`` (and deletes), ``preprocess`` (Viggle
preprocessing), ``templates`` (template imports); ``common`` holds the limits and refusal types.
Callers import from this package.

Rules that matter:
- an upload is judged by its content (media.probe) against Viggle's limits before anything is
  stored; a refusal leaves no row and no file;
- one asset per content (SHA-256): a duplicate upload returns the existing asset;
- an asset that a render used is archived, never deleted (renders keep their history);
- upstream calls happen in tasks; claims are conditional UPDATEs so two workers never act on one
  resource at once.
"""

from viggle_web.assets.services.common import (
    ACTIVE,
    CLAIM_SECONDS,
    MAX_TAGS,
    SCENE_MODELS,
    SUBMIT_CLAIM_SECONDS,
    AssetActionRefused,
    UploadRefused,
    UploadResult,
)
from viggle_web.assets.services.edits import (
    asset_can_change,
    asset_delete,
    asset_favourite_toggle,
    asset_rename,
    asset_tags_set,
    parse_tag_names,
)
from viggle_web.assets.services.preprocess import (
    asset_upload,
    resource_claim_due,
    resource_poll,
    resource_poll_due,
    resource_request,
    resource_submit,
)
from viggle_web.assets.services.templates import (
    _UUID,
    TEMPLATE_LINK_HELP,
    asset_import_template,
    template_default_name,
    template_id_parse,
    template_import_cost,
)
from viggle_web.assets.services.uploads import (
    _sha256,
    asset_create,
)

__all__ = [
    "ACTIVE",
    "AssetActionRefused",
    "CLAIM_SECONDS",
    "MAX_TAGS",
    "SCENE_MODELS",
    "SUBMIT_CLAIM_SECONDS",
    "TEMPLATE_LINK_HELP",
    "UploadRefused",
    "UploadResult",
    "_UUID",
    "_sha256",
    "asset_can_change",
    "asset_create",
    "asset_delete",
    "asset_favourite_toggle",
    "asset_import_template",
    "asset_rename",
    "asset_tags_set",
    "asset_upload",
    "parse_tag_names",
    "resource_claim_due",
    "resource_poll",
    "resource_poll_due",
    "resource_request",
    "resource_submit",
    "template_default_name",
    "template_id_parse",
    "template_import_cost",
]
