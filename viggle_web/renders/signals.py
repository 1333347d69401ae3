"""Events a render announces to the apps above it (they subscribe; renders import none of them).

job_completed        sent after the transaction that completed the job commits; ``job_id``.
job_files_deleting   sent inside the transaction that deletes a finished job's files, with the
                     locked ``job`` and the ``actor``: receivers delete what they kept with it.
"""

from django.dispatch import Signal

job_completed = Signal()
job_files_deleting = Signal()
