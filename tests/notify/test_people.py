"""Notifications for people: emails per preference (Django's outbox), the daily digest's
contents, and budget alerts once per threshold per month. Preferences and budgets are set
through the pages; renders go through the API; the worker's tasks run in the test process."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from tests.exports.conftest import drive
from tests.notify.test_webhooks import api_render, deliver
from viggle_web.notify import tasks
from viggle_web.notify.models import BudgetAlert, Notice
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)


def choose(client, **prefs: bool) -> None:
    data = {name: "on" for name, on in prefs.items() if on}
    response = client.post(reverse("notify:settings"), data)
    assert response.status_code == 302


def test_an_email_when_a_render_finishes_and_the_digest_lists_the_day(
    api, member, member_client, viggle_sim, tmp_path, media_root
):
    choose(member_client, email=True, digest=True)
    response = api_render(api, tmp_path)
    assert response.status_code == 200, response.content
    job = drive(RenderJob.objects.get(public_id=response.json()["job_id"]))
    assert job.status == "complete"
    deliver()
    assert len(mail.outbox) == 1
    done = mail.outbox[0]
    assert done.to == [member.email]
    assert done.subject == "Render complete: hero × dance"
    assert f"/renders/{job.public_id}/" in done.body

    # A second render that Viggle fails.
    viggle_sim.set(fail_next_jobs=1)
    response = api_render(api, tmp_path, model="V3_Preview")
    failed = drive(RenderJob.objects.get(public_id=response.json()["job_id"]))
    assert failed.status == "failed"
    deliver()
    assert mail.outbox[1].subject == "Render failed: hero × dance"

    mail.outbox.clear()
    assert tasks.digest_send() == 1
    assert tasks.digest_send() == 0  # once a day
    deliver()
    assert len(mail.outbox) == 1
    digest = mail.outbox[0]
    assert digest.to == [member.email]
    assert digest.subject == "Your Viggle Studio day: 2 finished"
    lines = [line for line in digest.body.splitlines() if line.startswith("- ")]
    assert len(lines) == 2
    assert lines[0].startswith("- Render hero × dance: Complete (")
    assert lines[1].startswith("- Render hero × dance: Failed (")
    assert digest.body.rstrip().endswith("/renders/")


def test_no_email_without_the_preference(api, member_client, viggle_sim, tmp_path, media_root):
    response = api_render(api, tmp_path)
    drive(RenderJob.objects.get(public_id=response.json()["job_id"]))
    deliver()
    assert tasks.digest_send() == 0
    deliver()
    assert mail.outbox == []


def test_budget_alerts_fire_once_per_threshold_for_member_and_organisation(
    api, member, admin_user, admin_client, member_client, settings, tmp_path, media_root
):
    settings.VIGGLE_MAX_RETRIES = 0  # Viggle is not there: renders wait to be sent, booked
    choose(member_client, budget_alerts=True)
    response = admin_client.post(
        reverse("usage:budget_set", args=[member.pk]), {"monthly_cap": "10"}
    )
    assert response.status_code in (200, 302)
    response = admin_client.post(reverse("usage:org_budget_set"), {"monthly_cap": "20"})
    assert response.status_code in (200, 302)

    for _ in range(3):  # 2 credits each: 6 of 10
        assert api_render(api, tmp_path).status_code == 200
    assert not BudgetAlert.objects.exists()
    assert api_render(api, tmp_path).status_code == 200  # 8 of 10: 80%
    assert list(BudgetAlert.objects.values_list("user", "threshold")) == [(member.pk, 80)]
    assert api_render(api, tmp_path).status_code == 200  # 10 of 10: 100%, org at 50%
    assert api_render(api, tmp_path).status_code == 402  # refused, nothing booked
    alerts = sorted(BudgetAlert.objects.values_list("user", "threshold"))
    assert alerts == [(member.pk, 80), (member.pk, 100)]

    # The admin's own renders take the organisation past 80% (16 of 20), once.
    admin_api = type(api)(api.client.__class__(), None)
    from viggle_web.gateway.services import token_create

    admin_api.raw = token_create(user=admin_user, name="admin").raw
    for _ in range(3):
        assert api_render(admin_api, tmp_path).status_code == 200
    alerts = sorted(BudgetAlert.objects.values_list("user", "threshold"), key=str)
    assert (None, 80) in alerts and (None, 100) not in alerts
    assert len(alerts) == 3

    member_notices = list(Notice.objects.filter(user=member).values_list("text", flat=True))
    assert len(member_notices) == 2 and all("Bob" in t or "bob" in t for t in member_notices)
    admin_notices = list(Notice.objects.filter(user=admin_user).values_list("text", flat=True))
    assert len(admin_notices) == 3
    assert any(t.startswith("The organisation's monthly budget is 80% used") for t in admin_notices)

    deliver()
    to_member = [m for m in mail.outbox if m.to == [member.email]]
    assert sorted(m.subject for m in to_member) == [
        "Budget alert: 100% used",
        "Budget alert: 80% used",
    ]
    page = member_client.get(reverse("notify:notices")).content.decode()
    assert "80% used" in page and "100% used" in page
