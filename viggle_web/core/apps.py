from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "viggle_web.core"
    label = "core"

    def ready(self) -> None:
        from django.urls import register_converter

        from viggle_web.core.converters import PublicIdConverter

        register_converter(PublicIdConverter, "pubid")
