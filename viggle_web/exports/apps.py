from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "viggle_web.exports"
    label = "exports"
    verbose_name = "Alpha exports"

    def ready(self) -> None:
        # Renders sit below exports: they announce events, exports react (never the reverse).
        from viggle_web.exports import services
        from viggle_web.renders import signals

        signals.job_completed.connect(services.on_job_completed, dispatch_uid="exports.completed")
        signals.job_files_deleting.connect(
            services.on_job_files_deleting, dispatch_uid="exports.files_deleting"
        )
