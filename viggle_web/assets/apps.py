from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "viggle_web.assets"
    label = "assets"
