from django.apps import AppConfig


class ViggleConfig(AppConfig):
    name = "viggle_web.viggle"
    label = "viggle"
    verbose_name = "Viggle API client"
