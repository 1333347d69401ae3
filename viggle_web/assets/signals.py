"""Events the gallery announces to the apps above it (they subscribe; assets import none of them).

asset_changed   sent after the transaction that brought a preprocessing (character or scene) or
                a template import to ``ready`` or ``failed`` commits. kwargs: ``resource_id``
                (int, a ViggleResource), ``asset_id`` (int), ``status`` ("ready" or "failed").
                Receivers must be quick and must not raise (enqueue work).
"""

from django.dispatch import Signal

asset_changed = Signal()
