"""Events a render announces to the apps above it (they subscribe; renders import none of them).

job_changed          THE event: sent after the transaction that changed a job commits, once per
                     change of status or progress. kwargs: ``job_id`` (int), ``old_status`` (str),
                     ``new_status`` (str; equal to old_status for a progress-only change),
                     ``progress`` (int 0-100). The live stream, exports, webhooks and notifications
                     subscribe to it. Receivers must be quick and must not raise (enqueue work).
job_submitted        sent by the render form's view after ``job_submit``, with the ``job``, the
                     ``actor`` and the form's ``options`` that other apps act on (exports:
                     ``alpha_exports``), so renders never imports them.
job_completed        sent after the transaction that completed the job commits; ``job_id``.
job_files_deleting   sent inside the transaction that deletes a finished job's files, with the
                     locked ``job`` and the ``actor``: receivers delete what they kept with it.
"""

from django.dispatch import Signal

job_changed = Signal()
job_completed = Signal()
job_submitted = Signal()
job_files_deleting = Signal()
