"""Webhooks and notifications: who hears about what, and the delivery of signed webhooks.

Renders (``job_changed``), the gallery (``asset_changed``) and the ledger (``spend_booked``)
announce events after their transactions commit; the receivers here only write rows
(``Delivery``, ``Notice``, ``BudgetAlert``) and enqueue the delivery loop on commit. Every POST
to a URL and every email happens in the worker's delivery loop (``delivery_loop_run``), never in
a request.

A delivery is one event for one URL (or one email). Its ``message_id`` is the ``webhook-id`` of
every attempt, retries and redeliveries included, so receivers can drop duplicates. Attempts are
claimed with a lease (a conditional UPDATE): a worker killed mid-POST leaves a lease that runs
out, and the next loop sends the same message again. Failed attempts are retried on
``WEBHOOK_RETRY_SCHEDULE`` (seconds; 24 h in all by default); an endpoint whose attempts fail
``WEBHOOK_DISABLE_AFTER_FAILURES`` times in a row is disabled and its owner told.

By concern: ``events`` (what comes in), ``endpoints`` (standing endpoints, secrets,
preferences), ``delivery`` (signing, retries, the loop), ``digest``; ``common`` is shared.
Callers import from this package.
"""

from viggle_web.notify.services.common import (
    ACTIVE,
    EMAIL,
    FINAL,
    LOOP_TASK,
    THRESHOLDS,
    NotifyRefused,
    absolute,
    preference,
)
from viggle_web.notify.services.delivery import (
    delivery_attempt,
    delivery_loop_run,
    retry_schedule,
    signed_headers,
)
from viggle_web.notify.services.digest import (
    digest_send,
)
from viggle_web.notify.services.endpoints import (
    ShownSecret,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_enable,
    endpoint_may_manage,
    endpoint_rotate,
    endpoint_send_test,
    notices_read,
    preference_set,
    script_secret,
    script_secret_rotate,
)
from viggle_web.notify.services.events import (
    budget_alerts_check,
    job_event,
    on_asset_changed,
    on_job_changed,
    on_spend_booked,
)

__all__ = [
    "ACTIVE",
    "EMAIL",
    "FINAL",
    "LOOP_TASK",
    "NotifyRefused",
    "ShownSecret",
    "THRESHOLDS",
    "absolute",
    "budget_alerts_check",
    "delivery_attempt",
    "delivery_loop_run",
    "delivery_redeliver",
    "digest_send",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_enable",
    "endpoint_may_manage",
    "endpoint_rotate",
    "endpoint_send_test",
    "job_event",
    "notices_read",
    "on_asset_changed",
    "on_job_changed",
    "on_spend_booked",
    "preference",
    "preference_set",
    "retry_schedule",
    "script_secret",
    "script_secret_rotate",
    "signed_headers",
]
