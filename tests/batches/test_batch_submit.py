"""A member submits a batch through the form: every render of characters x motions or none of
them, checked against the budgets as a whole; two members' batches against one organisation
budget cannot together pass it."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.renders.factories import asset_row
from viggle_web.batches.models import Batch
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry
from viggle_web.usage.services import budget_set, org_budget_set

NEW = reverse("batches:new")


def _post(client: Client, characters, motions, *, key: str | None = None, **extra):
    return client.post(
        NEW,
        {
            "characters": [a.pk for a in characters],
            "motions": [a.pk for a in motions],
            "model": "V4_Preview",
            "background_mode": "original",
            "bg_color": "#00ff00",
            "idempotency_key": key or uuid.uuid4().hex,
            **extra,
        },
    )


@pytest.fixture
def grid(member):
    characters = [asset_row(owner=member, kind="image", name=f"Hero {i}") for i in range(2)]
    motions = [asset_row(owner=member, seconds=2.0, name=f"Dance {i}") for i in range(3)]
    return characters, motions


@pytest.mark.django_db
def test_a_2x3_batch_writes_six_renders_each_reserved(member_client, member, grid):
    characters, motions = grid
    key = uuid.uuid4().hex
    response = _post(member_client, characters, motions, key=key)
    batch = Batch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("batches:detail", args=[batch.public_id])
    jobs = RenderJob.objects.filter(batch_item__batch=batch)
    pairs = {(job.character.name, job.motion.name) for job in jobs}
    assert len(pairs) == 6 and len(jobs) == 6
    assert batch.estimate_credits == 12
    reserved = CreditEntry.objects.filter(job__in=jobs, kind="reserve")
    assert sum(entry.credits for entry in reserved) == 12
    # The same form sent again (double click) finds the same batch.
    again = _post(member_client, characters, motions, key=key)
    assert again.url == response.url and RenderJob.objects.count() == 6
    page = member_client.get(response.url)
    assert page.content.decode().count('class="batch-cell') == 6


@pytest.mark.django_db
def test_the_form_shows_count_total_and_what_is_left(member_client, member, admin_user, grid):
    characters, motions = grid
    budget_set(actor=admin_user, user=member, monthly_cap=50)
    query = "&".join(
        [f"characters={a.pk}" for a in characters] + [f"motions={m.pk}" for m in motions]
    )
    live = member_client.get(f"{NEW}?{query}", headers={"HX-Request": "true"})
    text = live.content.decode()
    assert 'id="batch-count">6<' in text
    assert 'id="batch-total">12 credits<' in text
    assert 'id="batch-left">50<' in text


@pytest.mark.django_db
def test_a_batch_over_the_members_budget_is_refused_whole(member_client, member, admin_user, grid):
    characters, motions = grid
    budget_set(actor=admin_user, user=member, monthly_cap=11)  # the batch needs 12
    response = _post(member_client, characters, motions)
    assert response.status_code == 400
    assert "This needs 12 credits" in response.content.decode()
    assert RenderJob.objects.count() == 0
    assert Batch.objects.count() == 0
    assert CreditEntry.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_members_batches_cannot_overshoot_the_organisation_budget(
    member, other_member, admin_user
):
    org_budget_set(actor=admin_user, monthly_cap=20)
    # Each batch: 2 characters x 2 motions of 3 s = 12 credits; only one fits in 20.
    motions = [asset_row(owner=member, seconds=3.0) for _ in range(2)]
    characters = [asset_row(owner=member, kind="image") for _ in range(2)]
    clients = []
    for user in (member, other_member):
        client = Client()
        client.force_login(user)
        clients.append(client)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def submit(client: Client) -> None:
        try:
            barrier.wait()
            statuses.append(_post(client, characters, motions).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 400]
    reserved = sum(CreditEntry.objects.values_list("credits", flat=True))
    assert reserved == 12 <= 20
    assert RenderJob.objects.count() == 4 and Batch.objects.count() == 1


@pytest.mark.django_db
def test_only_the_owner_or_an_admin_cancels_a_batch(member_client, member, other_member, grid):
    characters, motions = grid
    _post(member_client, characters, motions)
    batch = Batch.objects.get()
    other = Client()
    other.force_login(other_member)
    assert other.post(reverse("batches:cancel", args=[batch.public_id])).status_code == 403
    member_client.post(reverse("batches:cancel", args=[batch.public_id]))
    assert set(RenderJob.objects.values_list("status", flat=True)) == {"cancelled"}
    assert sum(CreditEntry.objects.values_list("credits", flat=True)) == 0
