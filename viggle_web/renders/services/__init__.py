"""Writes on render jobs, by concern:

- ``submit``: validate, estimate, budget, write the job and its reservation, send on commit;
- ``send``: send a pending job to Viggle once; settle a send whose outcome is unknown;
- ``poll``: record what a poll said; ``finish``: store the result and settle;
- ``actions``: a member's cancel and delete; ``common``: leases, timings, the refusal type.

Every change of a job's status or progress goes through ``renders.states.job_transition`` (the
one table of allowed moves, a conditional UPDATE, the ledger and the one event). Work on a job is
claimed with a lease (a conditional UPDATE): a worker that dies simply lets its lease run out and
another worker picks the job up. Callers import from this package; the modules are its rooms.
"""

from viggle_web.renders.services.actions import job_cancel, job_cancelled, job_delete_files
from viggle_web.renders.services.common import (
    BG_COLOR_DEFAULT,
    FIRST_POLL,
    MAX_BACKOFF_SECONDS,
    POLL_INTERVAL,
    RenderRefused,
    job_claim,
    lease_time,
    submission_create,
)
from viggle_web.renders.services.finish import job_finish
from viggle_web.renders.services.poll import job_apply_status, job_poll
from viggle_web.renders.services.send import (
    SEND_UNKNOWN_MESSAGE,
    job_fail,
    job_resolve_send,
    job_send,
)
from viggle_web.renders.services.submit import (
    RenderRequest,
    job_rerun,
    job_submit,
    parse_bg_color,
    render_estimate,
)
from viggle_web.renders.states import NOTIFY_CHANNEL, notify_job_changed
from viggle_web.renders.states import charge_of as _charge

__all__ = [
    "BG_COLOR_DEFAULT",
    "FIRST_POLL",
    "MAX_BACKOFF_SECONDS",
    "NOTIFY_CHANNEL",
    "POLL_INTERVAL",
    "SEND_UNKNOWN_MESSAGE",
    "RenderRefused",
    "RenderRequest",
    "_charge",
    "job_apply_status",
    "job_cancel",
    "job_cancelled",
    "job_claim",
    "job_delete_files",
    "job_fail",
    "job_finish",
    "job_poll",
    "job_rerun",
    "job_resolve_send",
    "job_send",
    "job_submit",
    "lease_time",
    "notify_job_changed",
    "parse_bg_color",
    "render_estimate",
    "submission_create",
]
