from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "viggle_web.batches"
    label = "batches"
    verbose_name = "Batch renders"
