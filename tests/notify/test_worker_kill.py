"""A worker killed (SIGKILL, the whole process group) while a delivery is at the receiver: after
a new worker starts, the event is delivered with the same webhook-id, so receivers deduplicate."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.notify.conftest import add_endpoint
from tests.workers import QCluster, wait_until
from viggle_web.notify.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)

# Short timeouts so a killed worker's task and leases come back within seconds.
WORKER_ENV = {
    "Q_TIMEOUT": "10",
    "Q_RETRY": "12",
    "POLLER_LOOP_SECONDS": "5",
    "WEBHOOK_LOOP_SECONDS": "5",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "WEBHOOK_LEASE_SECONDS": "4",
}


def test_a_delivery_interrupted_by_a_killed_worker_is_sent_again_with_the_same_id(
    member_client, receiver
):
    endpoint_id, _secret = add_endpoint(member_client, receiver.url, ["completed"])
    receiver.hold_first = True  # the first POST stays open: the worker is mid-delivery
    response = member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    assert response.status_code == 302

    worker = QCluster("notify-kill", **WORKER_ENV).start()
    try:
        assert receiver.arrived.wait(60), worker.stderr()
        worker.kill()
    finally:
        worker.stop()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    attempt = delivery.log.get()
    assert attempt.response_code is None and "worker stopped" in attempt.error
    receiver.release.set()  # the receiver answers the dead connection; nobody reads it

    restarted = QCluster("notify-restart", **WORKER_ENV).start()
    try:
        wait_until(
            lambda: Delivery.objects.get().status == "delivered",
            timeout=120,
            message="the event was not delivered after the restart",
        )
    finally:
        restarted.stop()
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 2 and ids == {delivery.message_id}
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert [a.ok for a in delivery.log.order_by("number")] == [False, True]
