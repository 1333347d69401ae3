"""Refusals are one family (core.errors.ApplicationError), mapped once for pages
(core.middleware.ApplicationErrorMiddleware) and once for the API (gateway.errors.api_error)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.renders.factories import asset_row
from viggle_web.renders import services
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db


def _cancelled_job(member) -> RenderJob:
    job = services.job_submit(
        owner=member,
        idempotency_key="key-refusal-01",
        request=services.RenderRequest(
            character=asset_row(owner=member, kind="image"),
            motion=asset_row(owner=member, kind="video"),
        ),
    )
    services.job_cancel(job=job, actor=member)
    return job


def test_a_refused_action_sends_the_member_back_to_the_page_they_came_from(member_client, member):
    job = _cancelled_job(member)
    came_from = "http://testserver" + reverse("renders:list") + "?status=cancelled"
    response = member_client.post(
        reverse("renders:cancel", args=[job.public_id]), HTTP_REFERER=came_from
    )
    assert response.status_code == 302
    assert response.url == came_from
    page = member_client.get(response.url).content.decode()
    assert "This render is already cancelled." in page
    job.refresh_from_db()
    assert job.status == RenderJob.Status.CANCELLED


def test_a_refusal_never_sends_the_member_to_another_site(member_client, member):
    job = _cancelled_job(member)
    response = member_client.post(
        reverse("renders:cancel", args=[job.public_id]),
        HTTP_REFERER="https://elsewhere.example/phish",
    )
    assert response.status_code == 302
    assert response.url == "/"
    assert "This render is already cancelled." in member_client.get("/").content.decode()


def test_an_htmx_request_gets_the_refusal_as_text_with_its_status(member_client, member):
    job = _cancelled_job(member)
    response = member_client.post(
        reverse("renders:cancel", args=[job.public_id]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "This render is already cancelled."
