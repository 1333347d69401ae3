from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "viggle_web.core"
    label = "core"

    def ready(self) -> None:
        from django.urls import register_converter

        from viggle_web.core.converters import PublicIdConverter

        register_converter(PublicIdConverter, "pubid")

        from viggle_web.core import forksafe

        # django-q2's workers and gunicorn's --preload workers are forked: no database
        # connection or pool may cross the fork (DB_POOL=true corrupted the worker).
        forksafe.install()

        from viggle_web.core import qworker

        qworker.connect_signals()
