"""Template imports as a member meets them: a link or id pasted into the gallery's form, the cost
shown first and held against budgets before Viggle is asked, the import followed until Viggle
reports the clip's length, failures explained, and the booking under its own kind."""

from __future__ import annotations

import csv
import io
import threading
import uuid

import httpx
import pytest
from django.db import connection
from django.db.models import Sum
from django.urls import reverse

from tests.template_flow import follow_preprocessing
from viggle_web.assets import services
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.gateway.services import token_create
from viggle_web.usage.models import Budget, CreditEntry, OrgBudget

TEMPLATE = "3f2b8c1e-5d4a-4b6f-9e21-7c0d1a2b3c4d"


def ledger_sum(**filters) -> int:
    return CreditEntry.objects.filter(**filters).aggregate(total=Sum("credits"))["total"] or 0


def imports(sim) -> list[dict]:
    return sim.calls("POST", "/api/scenes/import")


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        (TEMPLATE, TEMPLATE),
        (f"  {TEMPLATE.upper()}  ", TEMPLATE),
        (TEMPLATE.replace("-", ""), TEMPLATE),
        (f"https://viggle.ai/template/{TEMPLATE}", TEMPLATE),
        (f"https://www.viggle.ai/templates/{TEMPLATE}?ref=share", TEMPLATE),
        (f"viggle.ai/t/{TEMPLATE}", TEMPLATE),
        (f"https://viggle.ai/create?template_id={TEMPLATE}", TEMPLATE),
    ],
)
def test_a_template_id_is_taken_from_what_people_paste(pasted, expected):
    assert services.template_id_parse(pasted) == expected


@pytest.mark.parametrize(
    "pasted",
    [
        "",
        "group dance",
        "not-a-uuid",
        f"https://example.com/template/{TEMPLATE}",
        f"https://viggle.ai.evil.example/template/{TEMPLATE}",
        "https://viggle.ai/templates",
        f"https://viggle.ai/template/{TEMPLATE}/{uuid.uuid4()}",
        f"ftp://viggle.ai/template/{TEMPLATE}",
    ],
)
def test_anything_else_is_refused_with_a_clear_message(pasted):
    with pytest.raises(services.AssetActionRefused) as refused:
        services.template_id_parse(pasted)
    assert "viggle.ai" in refused.value.message


@pytest.mark.django_db(transaction=True)
def test_a_pasted_link_is_imported_followed_and_shown_with_its_people_and_length(
    viggle_sim, media_root, client, member
):
    viggle_sim.set(template_people=2)
    client.force_login(member)
    form = client.get(reverse("gallery:import")).content.decode()
    assert "Importing costs <strong>15 credits</strong>" in form  # the cost, before confirming

    link = f"https://viggle.ai/template/{TEMPLATE}?utm_source=share"
    response = client.post(reverse("gallery:import"), {"template_id": link, "name": ""})

    asset = Asset.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:detail", args=[asset.pk])
    assert (asset.kind, asset.template_id) == ("template", TEMPLATE)
    assert asset.name.startswith("Template of ")  # the name was left empty
    assert len(asset.people) == 2
    assert asset.duration_seconds is None  # Viggle has not processed it yet
    resource = ViggleResource.objects.get()
    assert resource.status == "pending" and resource.upstream_id
    pending = client.get(reverse("gallery:detail", args=[asset.pk])).content.decode()
    assert 'data-credits="reserved">15 credits reserved</span>' in pending
    held = CreditEntry.objects.get(kind="template")
    assert (held.user, held.credits, held.model) == (member, 15, "template")

    follow_preprocessing()

    asset.refresh_from_db()
    resource.refresh_from_db()
    assert resource.status == "ready"
    # Recorded from Viggle's answer (the simulator's template clip), not written by the test.
    assert asset.duration_seconds == pytest.approx(3.0)
    assert (asset.fps, asset.total_frames, asset.width, asset.height) == (12.0, 36, 320, 240)
    assert [p["uuid"] for p in asset.people] == [s["uuid"] for s in asset.segments]

    detail = client.get(reverse("gallery:detail", args=[asset.pk])).content.decode()
    assert "Template import: <strong>Ready</strong>" in detail
    assert 'data-credits="charged">15 credits charged</span>' in detail
    assert "reserved" not in detail
    assert 'length <span class="template-length">3.0 s</span>' in detail
    assert "2 people" in detail and "Person 2 (human)" in detail
    assert resource.upstream_id not in detail
    card = client.get(reverse("gallery:card", args=[asset.pk])).content.decode()
    assert "2 people" in card and "3.0 s" in card

    # Browsed and filtered like any asset.
    other = client.get(reverse("gallery:index"), {"kind": "image"}).context["page"]
    assert asset not in other.object_list
    listed = client.get(reverse("gallery:index"), {"kind": "template", "q": "template of"})
    assert [a.pk for a in listed.context["page"].object_list] == [asset.pk]
    by_length = client.get(reverse("gallery:index"), {"kind": "template", "sort": "duration"})
    assert by_length.status_code == 200 and asset in by_length.context["page"].object_list

    # Pasting it again finds the same template: no second import, no second booking.
    again = client.post(reverse("gallery:import"), {"template_id": TEMPLATE, "name": "Again"})
    assert again["Location"] == reverse("gallery:detail", args=[asset.pk])
    assert len(imports(viggle_sim)) == 1 and ledger_sum(user=member) == 15


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "pasted", ["group dance", f"https://example.com/template/{TEMPLATE}", "https://viggle.ai/"]
)
def test_a_bad_link_is_explained_before_anything_is_sent(viggle_sim, client, member, pasted):
    client.force_login(member)
    response = client.post(reverse("gallery:import"), {"template_id": pasted, "name": "x"})
    assert response.status_code == 400
    assert "viggle.ai" in response.content.decode()
    assert imports(viggle_sim) == []
    assert not Asset.objects.exists() and not CreditEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_import_over_budget_is_a_message_in_the_page_and_a_402_on_the_api(
    viggle_sim, client, member
):
    Budget.objects.create(user=member, monthly_cap=10)  # an import holds 15
    client.force_login(member)
    page = client.post(reverse("gallery:import"), {"template_id": TEMPLATE, "name": "x"})
    assert page.status_code == 400
    assert "This needs 15 credits but your monthly budget has only 10 of 10 left" in (
        page.content.decode()
    )

    token = token_create(user=member, name="script").raw
    api = client.post(
        "/api/scenes/import",
        {"template_id": TEMPLATE, "name": "x"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 402
    assert api.json()["detail"]["error_code"] == "BUDGET_EXCEEDED"
    assert imports(viggle_sim) == []
    assert not Asset.objects.exists() and not CreditEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_import_shows_vigges_reason_and_gives_the_credits_back(
    viggle_sim, media_root, client, member
):
    viggle_sim.set(fail_next_imports=1)
    client.force_login(member)
    client.post(reverse("gallery:import"), {"template_id": TEMPLATE, "name": "Broken"})
    asset = Asset.objects.get()
    assert ledger_sum(user=member) == 15  # held while Viggle works on it

    follow_preprocessing()

    resource = ViggleResource.objects.get()
    assert resource.status == "failed"
    assert resource.error_message == (
        "Template import failed: the template could not be processed"  # upstream's words
    )
    detail = client.get(reverse("gallery:detail", args=[asset.pk])).content.decode()
    assert "Template import failed: the template could not be processed" in detail
    assert 'data-credits="refunded">15 credits refunded</span>' in detail
    assert "reserved" not in detail and "charged" not in detail
    assert ledger_sum(user=member) == 0
    release = CreditEntry.objects.get(kind="release")
    assert (release.credits, release.model) == (-15, "template")
    # The render form says why it cannot use it.
    refused = client.post(
        reverse("renders:new"),
        {
            "motion": asset.pk,
            "model": "V4_Preview",
            "background_mode": "original",
            "idempotency_key": "key-failed-template",
        },
    )
    assert refused.status_code == 400
    assert "The import of the template “Broken” failed" in refused.content.decode()


@pytest.mark.django_db(transaction=True)
def test_viggles_refusal_leaves_nothing_booked(viggle_sim, client, member):
    viggle_sim.set_credits(3)  # the organisation's Viggle balance cannot cover the import
    client.force_login(member)
    response = client.post(reverse("gallery:import"), {"template_id": TEMPLATE, "name": "x"})
    assert response.status_code == 400
    assert "Viggle refused the import" in response.content.decode()
    assert len(imports(viggle_sim)) == 1
    assert not Asset.objects.exists() and not ViggleResource.objects.exists()
    assert ledger_sum() == 0  # the hold was released


@pytest.mark.django_db(transaction=True)
def test_the_import_is_its_own_kind_on_the_usage_page_and_in_the_csv(
    viggle_sim, media_root, client, member
):
    client.force_login(member)
    client.post(reverse("gallery:import"), {"template_id": TEMPLATE, "name": "Group"})
    follow_preprocessing()

    page = client.get(reverse("usage:report"))
    rows = {row.label: row for row in page.context["report"].by_model}
    assert rows["Template import"].credits == 15
    assert "Characters" not in rows
    assert rows["Template import"].characters == 0
    html = page.content.decode()
    assert '<th scope="row">Template import</th>' in html

    table = list(csv.DictReader(io.StringIO(client.get(reverse("usage:csv")).content.decode())))
    by_kind = [r for r in table if r["section"] == "model"]
    assert [(r["label"], r["credits"]) for r in by_kind] == [("Template import", "15")]


@pytest.mark.django_db(transaction=True)
def test_parallel_imports_cannot_overshoot_a_budget_that_allows_one(
    viggle_sim, live_server, member
):
    """8 imports at once, each its own request thread and database connection on Postgres,
    through the API: the budget allows one import (15 credits)."""
    assert connection.vendor == "postgresql"
    Budget.objects.create(user=member, monthly_cap=20)
    OrgBudget.objects.update_or_create(pk=1, defaults={"monthly_cap": 1000})
    token = token_create(user=member, name="burst").raw
    start = threading.Barrier(8)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def one_import(n: int) -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            start.wait()
            response = http.post(
                "/api/scenes/import",
                json={"template_id": str(uuid.uuid4()), "name": f"Burst {n}"},
                headers={"Authorization": f"Bearer {token}"},
            )
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=one_import, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [402] * 7, [r.text for r in answers]
    for refused in (r for r in answers if r.status_code == 402):
        assert refused.json()["detail"]["error_code"] == "BUDGET_EXCEEDED"
    assert len(imports(viggle_sim)) == 1  # the refused ones never reached Viggle
    assert Asset.objects.filter(kind="template").count() == 1
    # The ledger matches: one import's credits, booked to the member, under its own kind.
    assert ledger_sum(user=member) == 15
    assert CreditEntry.objects.filter(kind="template").count() == 1
    assert viggle_sim.state()["credits"] == 10_000 - 15
