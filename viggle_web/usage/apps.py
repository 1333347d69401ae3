from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "viggle_web.usage"
    label = "usage"
