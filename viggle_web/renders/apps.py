from django.apps import AppConfig


class RendersConfig(AppConfig):
    name = "viggle_web.renders"
    label = "renders"
