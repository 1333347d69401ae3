from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "viggle_web.core"
    label = "core"
