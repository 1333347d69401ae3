"""The renders pages: list filters, template people mapping, deleting files, render again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from tests.media_factory import make_png
from tests.renders.factories import asset_row
from tests.template_flow import import_template, prepare_character, upload
from viggle_web.core.models import AuditEvent
from viggle_web.renders import services
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db


def _job(owner, key: str, **fields) -> RenderJob:
    job = services.job_submit(
        owner=owner,
        idempotency_key=key,
        request=services.RenderRequest(
            character=asset_row(owner=owner, kind="image"),
            motion=asset_row(owner=owner, kind="video"),
        ),
    )
    if fields:
        RenderJob.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


def test_the_list_filters_by_member_status_date_and_asset(member_client, member, other_member):
    mine = _job(member, "key-list-0001", status="complete")
    theirs = _job(other_member, "key-list-0002", status="failed")
    old = _job(member, "key-list-0003")
    RenderJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    def shown(**query) -> set[str]:
        response = member_client.get(reverse("renders:list"), query)
        assert response.status_code == 200
        return {job.public_id for job in response.context["page"].object_list}

    assert shown() == {mine.public_id, theirs.public_id, old.public_id}  # the team's jobs
    assert shown(member=other_member.pk) == {theirs.public_id}
    assert shown(status="failed") == {theirs.public_id}
    assert shown(status="active") == {old.public_id}
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert shown(date_from=since) == {mine.public_id, theirs.public_id}
    assert shown(asset=mine.motion_id) == {mine.public_id}
    assert member_client.get(reverse("renders:list"), {"status": "nope"}).status_code == 400
    assert member_client.get(reverse("renders:list"), {"page": "0"}).status_code == 400


def test_the_list_is_paginated_and_shows_an_empty_state(member_client, member):
    assert "No renders yet" in member_client.get(reverse("renders:list")).content.decode()
    for i in range(30):
        _job(member, f"key-page-{i:04d}")
    first = member_client.get(reverse("renders:list"))
    assert len(first.context["page"].object_list) == 25
    second = member_client.get(reverse("renders:list"), {"page": 2})
    assert len(second.context["page"].object_list) == 5


def test_the_list_keeps_a_constant_query_count(
    member_client, member, django_assert_max_num_queries
):
    for i in range(5):
        _job(member, f"key-q-{i:04d}")
    with django_assert_max_num_queries(12):
        member_client.get(reverse("renders:list"))
    for i in range(40):
        _job(member, f"key-q2-{i:04d}")
    with django_assert_max_num_queries(12):
        member_client.get(reverse("renders:list"))


@pytest.mark.django_db(transaction=True)
def test_a_template_render_maps_people_with_the_picker_and_keeps_the_mapping(
    viggle_sim, media_root, member_client, member, tmp_path
):
    """The template and the characters come the way a member makes them (imported and
    prepared through Viggle); the form lists the template's people, each with a picker."""
    template = import_template(user=member, sim=viggle_sim, people=2, name="Group dance")
    hero = prepare_character(user=member, path=make_png(tmp_path / "hero.png"), name="Hero")
    raw = upload(user=member, path=make_png(tmp_path / "raw.png", size=(200, 220)), name="Raw")
    first, second = (p["uuid"] for p in template.people)

    live = member_client.get(
        reverse("renders:new"), {"motion": template.pk}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "People in this template" in live
    for uuid_ in (first, second):
        assert f'name="segment_{uuid_}" value="{hero.pk}"' in live  # a picker per person
    assert "data-asset-picker data-picker-quiet" in live
    assert f'src="/gallery/{hero.pk}/preview/"' in live  # thumbnails, not a names-only list
    # An image that is not a Viggle character yet is shown but cannot be chosen.
    assert f'value="{raw.pk}" disabled' in live
    # The estimate uses the template's real length (3 s, reported by Viggle).
    assert "Estimated cost: <strong>3 credits</strong>" in live

    data = {
        "motion": template.pk,
        "model": "V4_Preview",
        "background_mode": "original",
        "idempotency_key": "key-template-02",
        f"segment_{first}": hero.pk,
        f"segment_{second}": raw.pk,  # not prepared: refused, and the choices survive
    }
    refused = member_client.post(reverse("renders:new"), data)
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "must be prepared as a Viggle character" in html
    assert f'name="segment_{first}" value="{hero.pk}" checked' in html
    assert not RenderJob.objects.exists()

    # One character may play both people.
    data.update({f"segment_{second}": hero.pk, "idempotency_key": "key-template-03"})
    response = member_client.post(reverse("renders:new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = RenderJob.objects.get()
    assert job.character_mapping == {first: str(hero.pk), second: str(hero.pk)}
    assert job.estimate_credits == 3 and job.estimate_seconds == pytest.approx(3.0)

    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "Person 1: Hero" in page and "Person 2: Hero" in page
    again = re.search(r'href="(/renders/new/\?[^"]+)">Render again', page)
    assert again, page
    form = member_client.get(again.group(1).replace("&amp;", "&")).content.decode()
    assert f'name="segment_{first}" value="{hero.pk}" checked' in form
    assert f'name="segment_{second}" value="{hero.pk}" checked' in form


@pytest.mark.django_db(transaction=True)
def test_people_may_stay_unmapped(viggle_sim, media_root, member_client, member, tmp_path):
    template = import_template(user=member, sim=viggle_sim, people=2)
    hero = prepare_character(user=member, path=make_png(tmp_path / "hero.png"), name="Hero")
    first = template.people[0]["uuid"]
    response = member_client.post(
        reverse("renders:new"),
        {
            "motion": template.pk,
            "model": "V4_Preview",
            "background_mode": "original",
            "idempotency_key": "key-template-04",
            f"segment_{first}": hero.pk,  # the second person keeps their look
        },
    )
    assert response.status_code == 302
    assert RenderJob.objects.get().character_mapping == {first: str(hero.pk)}


def test_the_owner_deletes_a_finished_jobs_files_and_the_record_stays(
    member_client, member, django_capture_on_commit_callbacks
):
    job = _job(member, "key-delete-01", status="complete", output_seconds=2.0)
    job.output.save("output.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42"), save=True)
    name = job.output.name
    storage = job.output.storage
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(reverse("renders:delete_files", args=[job.public_id]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert not job.output and not storage.exists(name)
    assert RenderJob.objects.filter(pk=job.pk).exists()
    assert AuditEvent.objects.filter(action="job_files_deleted").count() == 1
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "files of this render were deleted" in page


def test_an_active_jobs_files_cannot_be_deleted(member_client, member):
    job = _job(member, "key-delete-02")
    member_client.post(reverse("renders:delete_files", args=[job.public_id]))
    job.refresh_from_db()
    assert job.status == "pending"


def test_render_again_prefills_the_form(member_client, member):
    job = _job(member, "key-again-01", status="complete", model="V3_Preview")
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "Render again" in page
    form = member_client.get(
        reverse("renders:new"),
        {"character": job.character_id, "motion": job.motion_id, "model": "V3_Preview"},
    )
    assert form.context["selected_character"] == job.character
    assert form.context["selected_motion"] == job.motion
    assert form.context["form"].initial["model"] == "V3_Preview"
    assert form.context["estimate"] == 2


def test_downloads_are_refused_without_login_and_for_missing_files(client, member):
    job = _job(member, "key-dl-0001")
    url = reverse("renders:download", args=[job.public_id])
    response = client.get(url, {"file": "output"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(member)
    assert client.get(url, {"file": "output"}).status_code == 404
    assert client.get(url, {"file": "../../etc/passwd"}).status_code == 404
