from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "viggle_web.batches"
    label = "batches"
    verbose_name = "Batch renders and results"

    def ready(self) -> None:
        # Batches sit above the gallery and renders: they hear of completed renders and add
        # results to the gallery through the lower apps' signals and registries.
        from viggle_web.assets.selectors import (
            asset_card_annotation_register,
            gallery_show_register,
            gallery_show_source_register,
        )
        from viggle_web.batches import collections, results
        from viggle_web.renders import signals
        from viggle_web.renders.selectors import job_group_source_register

        signals.job_completed.connect(results.on_job_completed, dispatch_uid="batches.results")
        asset_card_annotation_register(results.with_results)
        gallery_show_register("results", "Render results", results.show_results)
        gallery_show_register("approved", "Approved results", results.show_approved)
        gallery_show_source_register(collections.show_choices, collections.show_apply)
        job_group_source_register(collections.jobs_choices, collections.jobs_apply)
