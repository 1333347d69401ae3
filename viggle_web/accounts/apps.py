from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "viggle_web.accounts"
    label = "accounts"
    verbose_name = "Members"
