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
        signals.job_submitted.connect(services.on_job_submitted, dispatch_uid="exports.submitted")
        # The gateway sits below exports too: exports adds its field, link kind and route.
        from viggle_web.exports import api
        from viggle_web.gateway import registry

        registry.render_field_register("exports", api.exports_payload)
        registry.download_kind_register("export", api.export_download)
        registry.view_register("render_exports", api.render_exports)
