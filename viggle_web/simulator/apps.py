from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "viggle_web.simulator"
    label = "simulator"
    verbose_name = "Viggle simulator (development and tests)"
