"""A character that plays a person in a template render counts as used: deleting it archives it
(the render keeps what it refers to), like a render's own character or motion."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from tests.media_factory import make_png
from tests.template_flow import import_template, prepare_character, upload
from viggle_web.assets.models import Asset
from viggle_web.renders.models import RenderJob


@pytest.mark.django_db(transaction=True)
def test_deleting_a_character_used_only_in_a_mapping_archives_it(
    viggle_sim, media_root, client, member, tmp_path
):
    template = import_template(user=member, sim=viggle_sim, people=2)
    dancer = prepare_character(user=member, path=make_png(tmp_path / "dancer.png"), name="Dancer")
    unused = upload(user=member, path=make_png(tmp_path / "unused.png", size=(300, 200)))
    client.force_login(member)
    response = client.post(
        reverse("renders:new"),
        {
            "motion": template.pk,
            "model": "V4_Preview",
            "background_mode": "original",
            "idempotency_key": "key-mapping-use-1",
            f"segment_{template.people[1]['uuid']}": dancer.pk,
        },
    )
    assert response.status_code == 302
    job = RenderJob.objects.get()
    assert job.character is None and job.character_mapping  # used only through the mapping

    # Its detail page lists the render that used it.
    detail = client.get(reverse("gallery:detail", args=[dancer.pk])).content.decode()
    assert job.public_id in detail

    response = client.post(reverse("gallery:delete", args=[dancer.pk]))
    assert response.status_code == 302
    dancer.refresh_from_db()
    assert dancer.archived_at is not None  # archived, not deleted
    assert default_storage.exists(dancer.file.name)
    page = client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "Person 2: Dancer" in page

    # An image no render used is deleted outright, for comparison.
    client.post(reverse("gallery:delete", args=[unused.pk]))
    assert not Asset.objects.filter(pk=unused.pk).exists()
