from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "viggle_web.notify"
    label = "notify"
    verbose_name = "Webhooks and notifications"

    def ready(self) -> None:
        # Renders, assets and usage sit below: they announce, notify subscribes.
        from django.db.models.signals import post_migrate

        from viggle_web.assets import signals as asset_signals
        from viggle_web.notify import schedules, services
        from viggle_web.renders import signals as render_signals
        from viggle_web.usage import signals as usage_signals

        render_signals.job_changed.connect(services.on_job_changed, dispatch_uid="notify.job")
        asset_signals.asset_changed.connect(services.on_asset_changed, dispatch_uid="notify.asset")
        usage_signals.spend_booked.connect(services.on_spend_booked, dispatch_uid="notify.spend")
        post_migrate.connect(schedules.ensure_schedules, sender=self)
