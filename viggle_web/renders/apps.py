from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RendersConfig(AppConfig):
    name = "viggle_web.renders"
    label = "renders"

    def ready(self) -> None:
        from viggle_web.renders.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
