from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "viggle_web.gateway"
    label = "gateway"
    verbose_name = "Viggle-compatible API"
