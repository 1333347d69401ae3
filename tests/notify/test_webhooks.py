"""Signed webhooks against a real receiving HTTP server: the member's path (the API's
webhook_url, the webhooks pages), the worker's delivery loop (``notify.tasks.delivery_loop``,
run here in the test process), and the simulator for the render itself."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.urls import reverse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.exports.conftest import drive
from tests.media_factory import make_mp4, make_png
from tests.notify.conftest import add_endpoint, shown_secret
from viggle_web.notify import tasks
from viggle_web.notify.models import Delivery, Endpoint, Notice
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)


def deliver() -> None:
    """What the worker does: the delivery loop until nothing is due soon."""
    for _ in range(10):
        if not tasks.delivery_loop(seconds=10):
            return
    raise AssertionError("deliveries still due after ten loops")


def api_render(api, tmp_path, **data):
    png, mp4 = make_png(tmp_path / "hero.png"), make_mp4(tmp_path / "dance.mp4", seconds=2.0)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        return api.post("/api/render", {"ref_image": ref, "driving_video": drv, **data})


def test_a_scripts_webhook_url_gets_signed_events_with_the_status_json(
    api, member_client, viggle_sim, receiver, fast_retries, tmp_path, media_root
):
    # The member gets their script secret from the webhooks page (shown once).
    page = member_client.post(reverse("notify:script_rotate"))
    secret = shown_secret(page.content.decode())
    # And a standing endpoint of theirs that wants progress only (its own secret).
    _endpoint_id, endpoint_secret = add_endpoint(member_client, receiver.url, ["progress"])

    response = api_render(
        api, tmp_path, webhook_url=receiver.url, webhook_events=["start", "completed"]
    )
    assert response.status_code == 200, response.content
    public_id = response.json()["job_id"]
    job = drive(RenderJob.objects.get(public_id=public_id))
    assert job.status == "complete"
    deliver()

    progress = [r for r in receiver.received if r.headers["viggle-event"] == "progress"]
    assert progress, "the endpoint that wants progress got none"
    for r in progress:
        body = Webhook(endpoint_secret).verify(r.body, r.headers)
        assert body["job_id"] == public_id and body["status"] in ("queued", "processing")
    scripted = [r for r in receiver.received if r not in progress]
    events = [r.headers["viggle-event"] for r in scripted]
    assert events == ["start", "completed"]  # the request asked for these two only
    verifier = Webhook(secret)
    bodies = [verifier.verify(r.body, r.headers) for r in scripted]
    ids = [r.headers["webhook-id"] for r in scripted]
    assert len(set(ids)) == 2 and all(i.startswith("msg_") for i in ids)
    rotated = shown_secret(member_client.post(reverse("notify:script_rotate")).content.decode())
    with pytest.raises(WebhookVerificationError):  # a rotated secret no longer verifies them
        Webhook(rotated).verify(scripted[1].body, scripted[1].headers)

    # The payload is GET /api/render/{id}'s JSON; no upstream id or URL in it.
    status = api.get(f"/api/render/{public_id}").json()
    completed = bodies[1]
    assert set(completed) == set(status)
    for key in ("job_id", "status", "mode", "progress_pct", "error", "created_at", "completed_at"):
        assert completed[key] == status[key], key
    assert completed["status"] == "complete" and completed["cdn_url"].startswith("http")
    raw = b"".join(r.body for r in receiver.received).decode()
    assert job.upstream_job_id not in raw and viggle_sim.base_url not in raw

    # The delivery log lists them, delivered at the first attempt.
    page = member_client.get(reverse("notify:webhooks")).content.decode()
    for message_id in ids:
        assert message_id in page
    assert Delivery.objects.filter(endpoint=None, status="delivered", attempts=1).count() == 2


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(
    member_client, receiver, fast_retries
):
    endpoint_id, secret = add_endpoint(member_client, receiver.url, ["completed"])
    receiver.script = [500, 503]
    response = member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    assert response.status_code == 302
    deliver()

    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message
    for r in receiver.received:
        assert Webhook(secret).verify(r.body, r.headers)["type"] == "test"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        "delivered",
        3,
        200,
    )
    page = member_client.get(reverse("notify:endpoint", args=[endpoint_id])).content.decode()
    assert "HTTP 500" in page and "HTTP 503" in page and "HTTP 200" in page
    assert Endpoint.objects.get().consecutive_failures == 0


def test_a_receiver_that_always_fails_is_disabled_and_its_owner_told(
    member, member_client, receiver, fast_retries, settings
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    endpoint_id, _secret = add_endpoint(member_client, receiver.url, ["completed"])
    receiver.default = 500
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()

    assert len(receiver.received) == 3  # the documented number, then no more
    endpoint = Endpoint.objects.get()
    assert not endpoint.enabled and endpoint.disabled_at is not None
    assert Delivery.objects.get(event="test").status == "failed"
    notice = Notice.objects.get(user=member)
    assert receiver.url in notice.text and "disabled" in notice.text
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "disabled" in mail.outbox[0].subject and receiver.url in mail.outbox[0].body
    page = member_client.get(reverse("notify:endpoint", args=[endpoint_id])).content.decode()
    assert "Disabled after 3 failed attempts" in page
    assert receiver.url in member_client.get(reverse("notify:notices")).content.decode()

    # A disabled endpoint gets no test event; enabled again, it does.
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    assert len(receiver.received) == 3
    receiver.default = 200
    member_client.post(reverse("notify:endpoint_enable", args=[endpoint_id]))
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    assert len(receiver.received) == 4


def test_redeliver_sends_the_same_message_again(member_client, receiver, fast_retries):
    endpoint_id, secret = add_endpoint(member_client, receiver.url, ["completed"])
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered" and len(receiver.received) == 1

    response = member_client.post(reverse("notify:redeliver", args=[delivery.pk]))
    assert response.status_code == 302
    deliver()
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert Webhook(secret).verify(second.body, second.headers) == json.loads(first.body)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.log.count() == 2


def test_another_member_cannot_see_or_redeliver_a_delivery(
    member_client, other_member, receiver, fast_retries
):
    from django.test import Client

    endpoint_id, _ = add_endpoint(member_client, receiver.url, ["completed"])
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    other = Client()
    other.force_login(other_member)
    delivery = Delivery.objects.get()
    assert other.post(reverse("notify:redeliver", args=[delivery.pk])).status_code == 404
    assert other.get(reverse("notify:endpoint", args=[endpoint_id])).status_code == 404
    assert other.post(reverse("notify:endpoint_rotate", args=[endpoint_id])).status_code == 404
    deliver()
    assert len(receiver.received) == 1


def test_a_receiver_on_a_private_address_is_refused_unless_development_allows_it(
    api, member_client, receiver, fast_retries, settings, tmp_path, media_root
):
    settings.VIGGLE_MAX_RETRIES = 0
    # Allowed (development and tests): the endpoint is added.
    endpoint_id, _ = add_endpoint(member_client, receiver.url, ["completed"])

    settings.ALLOW_PRIVATE_FETCH = False
    # Refused when given: on the page and in the API, before anything is stored.
    response = member_client.post(
        reverse("notify:webhooks"), {"url": receiver.url, "events": ["completed"]}
    )
    assert response.status_code == 400
    assert "private or reserved address" in response.content.decode()
    response = api_render(api, tmp_path, webhook_url=receiver.url)
    assert response.status_code == 400
    assert "webhook_url refused" in response.json()["detail"]["message"]
    assert not RenderJob.objects.exists()
    # Refused when delivered: an endpoint stored earlier is not posted to.
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    assert receiver.received == []
    attempt = Delivery.objects.get().log.get(number=1)
    assert "private or reserved address" in attempt.error and not attempt.ok

    settings.ALLOW_PRIVATE_FETCH = True
    member_client.post(reverse("notify:redeliver", args=[Delivery.objects.get().pk]))
    deliver()
    assert len(receiver.received) == 1


def test_only_an_admin_adds_an_organisation_wide_endpoint_which_hears_everyone(
    admin_client, member_client, receiver, fast_retries
):
    response = member_client.post(
        reverse("notify:webhooks"),
        {"url": receiver.url, "events": ["completed"], "org_wide": "on"},
    )
    assert response.status_code == 400 and not Endpoint.objects.exists()
    endpoint_id, _ = add_endpoint(admin_client, receiver.url, ["completed"], org_wide="on")
    assert Endpoint.objects.get(pk=endpoint_id).org_wide
    page = member_client.get(reverse("notify:webhooks")).content.decode()
    assert receiver.url not in page  # a member does not see it


def test_a_rotated_endpoint_secret_signs_from_then_on(member_client, receiver, fast_retries):
    endpoint_id, old_secret = add_endpoint(member_client, receiver.url, ["completed"])
    response = member_client.post(reverse("notify:endpoint_rotate", args=[endpoint_id]))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new_secret = shown_secret(response.content.decode())
    assert new_secret != old_secret
    page = member_client.get(reverse("notify:endpoint", args=[endpoint_id])).content.decode()
    assert new_secret not in page  # shown once
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    (got,) = receiver.received
    assert Webhook(new_secret).verify(got.body, got.headers)["type"] == "test"
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(got.body, got.headers)


def test_a_receiver_slower_than_the_timeout_is_retried(
    member_client, receiver, fast_retries, settings
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    endpoint_id, _ = add_endpoint(member_client, receiver.url, ["completed"])
    receiver.hold_first = True  # the first answer never comes in time
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    receiver.release.set()
    delivery = Delivery.objects.get()
    first, second = delivery.log.order_by("number")
    assert (first.ok, first.response_code) == (False, None) and first.error
    assert (second.ok, second.response_code) == (True, 200)
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_a_receiver_answering_an_endless_body_is_read_only_up_to_the_cap(
    member_client, receiver, fast_retries, settings
):
    """WEBHOOK_MAX_RESPONSE_BYTES: the delivery reads that much of the answer and hangs up, so a
    receiver streaming forever neither holds the worker until the timeout nor fills its memory."""
    settings.WEBHOOK_MAX_RESPONSE_BYTES = 4096
    settings.WEBHOOK_TIMEOUT_SECONDS = 20.0
    endpoint_id, _ = add_endpoint(member_client, receiver.url, ["completed"])
    receiver.endless = True
    member_client.post(reverse("notify:endpoint_test", args=[endpoint_id]))
    deliver()
    delivery = Delivery.objects.get()
    (attempt,) = delivery.log.all()
    assert (attempt.ok, attempt.response_code, attempt.error) == (True, 200, "")
    assert delivery.status == "delivered" and delivery.attempts == 1
    # The read stopped at the cap: without it the endless answer holds the attempt (and the
    # worker) until the 20 s timeout cuts the connection (measured: the whole timeout).
    assert attempt.milliseconds < 10_000, attempt.milliseconds
    receiver.release.set()


def test_a_progress_event_nobody_listens_to_costs_no_query(
    api,
    member_client,
    viggle_sim,
    receiver,
    fast_retries,
    tmp_path,
    media_root,
    django_assert_num_queries,
):
    """Almost every poll of a running render is a progress event: with no endpoint and no
    webhook_url wanting progress it is dropped without touching the database (the worker's CPU
    per poll, issue 18); one that wants it still gets it."""
    from viggle_web.notify.services.events import on_job_changed, progress_listeners_forget

    response = api_render(api, tmp_path, webhook_url=receiver.url, webhook_events=["completed"])
    job = RenderJob.objects.get(public_id=response.json()["job_id"])
    change = {"job_id": job.pk, "old_status": "queued", "new_status": "processing", "progress": 40}
    on_job_changed(None, **change)  # reads the listeners once
    with django_assert_num_queries(0):
        on_job_changed(None, **change)
    assert not Delivery.objects.filter(event="progress").exists()

    add_endpoint(member_client, receiver.url, ["progress"])
    progress_listeners_forget()  # the worker sees a new endpoint within 2 s
    on_job_changed(None, **change)
    assert Delivery.objects.filter(event="progress").count() == 1
