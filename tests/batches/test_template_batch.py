"""One template x several mappings: each ticked character plays the chosen person of a template
in a render of its own; the template and the characters are made the way production makes them
(imported and prepared through the simulator)."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.media_factory import make_png
from tests.renders.factories import asset_row
from tests.template_flow import import_template, prepare_character
from tests.viggle_fixtures import *  # noqa: F403
from viggle_web.batches.models import Batch
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_character_plays_the_templates_person_in_its_own_render(
    viggle_sim, media_root, member_client, member, tmp_path
):
    template = import_template(user=member, sim=viggle_sim, people=2, name="Group dance")
    heroes = [
        prepare_character(
            user=member, path=make_png(tmp_path / f"{n}.png", size=(200 + i, 220)), name=n
        )
        for i, n in enumerate(("Ann", "Ben", "Cat"))
    ]
    second = template.people[1]["uuid"]
    form = {
        "characters": [h.pk for h in heroes],
        "cast": f"{template.pk}:{second}",
        "model": "V4_Preview",
        "background_mode": "original",
        "bg_color": "#00ff00",
    }
    live = member_client.get(reverse("batches:new"), form, headers={"HX-Request": "true"})
    assert 'id="batch-count">3<' in live.content.decode()

    response = member_client.post(
        reverse("batches:new"), {**form, "idempotency_key": uuid.uuid4().hex}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    jobs = RenderJob.objects.filter(batch_item__batch=Batch.objects.get())
    assert sorted(job.character_mapping[second] for job in jobs) == sorted(
        str(h.pk) for h in heroes
    )
    assert {job.motion_id for job in jobs} == {template.pk}
    assert all(job.character_id is None for job in jobs)

    # Each cell, row and page names the character who plays, not "Template".
    batch = Batch.objects.get()
    grid = member_client.get(reverse("batches:detail", args=[batch.public_id])).content.decode()
    for position, name in enumerate(("Ann", "Ben", "Cat"), start=1):
        assert f'<p class="batch-label">{position}. {name} × Group dance</p>' in grid
    listed = member_client.get(reverse("renders:list")).content.decode()
    assert listed.count("× Group dance</a>") == 3 and "Template ×" not in listed
    (job,) = [j for j in jobs if j.character_mapping[second] == str(heroes[0].pk)]
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "<h1>Ann × Group dance</h1>" in page

    # Motions and a template together are refused, with nothing written.
    walk = asset_row(owner=member, seconds=2.0, name="Walk")
    mixed = member_client.post(
        reverse("batches:new"),
        {**form, "motions": [walk.pk], "idempotency_key": uuid.uuid4().hex},
    )
    assert mixed.status_code == 400
    assert "Choose motions or a template, not both." in mixed.content.decode()
    assert RenderJob.objects.count() == 3
