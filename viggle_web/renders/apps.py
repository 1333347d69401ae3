from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RendersConfig(AppConfig):
    name = "viggle_web.renders"
    label = "renders"

    def ready(self) -> None:
        from viggle_web.assets.selectors import asset_uses_register
        from viggle_web.renders.schedules import ensure_schedules
        from viggle_web.renders.selectors import renders_using_asset

        post_migrate.connect(ensure_schedules, sender=self)
        # The gallery lists an asset's renders, and archives a used asset instead of deleting it.
        asset_uses_register(renders_using_asset)
