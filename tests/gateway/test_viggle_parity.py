"""A script written for Viggle takes the same branch against /api/: the gateway answers with
Viggle's statuses and codes, checked side by side with the simulator (Viggle's stand-in) over
HTTP, and keeps its own refusals in the same body shape with codes of its own."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import detail
from tests.media_factory import make_mp4, make_png
from viggle_web.assets.models import Asset
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def upstream_code(response: httpx.Response | object) -> tuple[int, str]:
    """(status, error_code) of an answer in any of the documented error shapes."""
    body = response.json()  # type: ignore[attr-defined]
    inner = body.get("detail")
    code = inner.get("error_code") if isinstance(inner, dict) else body.get("error_code")
    return response.status_code, code  # type: ignore[attr-defined]


def render_both(viggle_sim, api, png: Path, video: Path) -> tuple[tuple[int, str], object]:
    """POST the same files to the simulator and to the gateway; the simulator's (status, code)
    and the gateway's response."""
    with png.open("rb") as ref, video.open("rb") as drv:
        upstream = viggle_sim.http.post(
            f"{viggle_sim.base_url}/api/render",
            headers={"Authorization": f"Bearer {viggle_sim.key}"},
            files={"ref_image": ref, "driving_video": drv},
        )
    with png.open("rb") as ref, video.open("rb") as drv:
        ours = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    return upstream_code(upstream), ours


def truncated_mp4(tmp_path: Path) -> Path:
    """An MP4 cut in half: it starts like an MP4, but its index (at the end) is gone."""
    whole = make_mp4(tmp_path / "whole.mp4", seconds=2.0).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])
    return cut


def gif_video(tmp_path: Path) -> Path:
    """An animated GIF: a real moving picture, in a format Viggle does not take."""
    from PIL import Image

    frames = [Image.new("RGB", (96, 96), (i * 40, 80, 120)) for i in range(6)]
    path = tmp_path / "dance.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0)
    return path


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        # Over 5 minutes, even by a quarter of a second.
        (
            lambda d: make_mp4(d / "long.mp4", seconds=300.25, fps=4, size=(64, 64)),
            400,
            "CS-ORIV-004",
        ),
        # Under 0.5 s, under 64x64: below Viggle's minimum, "request failed validation".
        (
            lambda d: make_mp4(d / "short.mp4", seconds=0.25, fps=4, size=(64, 64)),
            400,
            "CS-UORC01-002",
        ),
        (
            lambda d: make_mp4(d / "tiny.mp4", seconds=1.0, fps=4, size=(48, 48)),
            400,
            "CS-UORC01-002",
        ),
        # Starts like an MP4 but cannot be read: unreadable, not an unsupported format.
        (truncated_mp4, 400, "CS-ORIV-007"),
        # A moving picture in a format Viggle does not take.
        (gif_video, 400, "CS-ORIV-003"),
    ],
    ids=["300.25s", "0.25s", "48x48", "truncated-mp4", "gif"],
)
def test_input_limits_answer_viggles_code_at_create(viggle_sim, api, tmp_path, make, status, code):
    png = make_png(tmp_path / "hero.png")
    video = make(tmp_path)
    with png.open("rb") as ref, video.open("rb") as drv:
        ours = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    assert ours.status_code == status, ours.content
    assert detail(ours)["error_code"] == code
    # Refused at create: no job, nothing booked, nothing stored, nothing sent on.
    assert not RenderJob.objects.exists() and not CreditEntry.objects.exists()
    assert not Asset.objects.filter(kind="video").exists()
    assert viggle_sim.creates() == []


@pytest.mark.parametrize(
    "make",
    [
        lambda d: make_mp4(d / "long.mp4", seconds=300.25, fps=4, size=(64, 64)),
        truncated_mp4,
        gif_video,
    ],
    ids=["300.25s", "truncated-mp4", "gif"],
)
def test_the_gateway_and_viggle_agree_on_bad_driving_videos(viggle_sim, api, tmp_path, make):
    png = make_png(tmp_path / "hero.png")
    upstream, ours = render_both(viggle_sim, api, png, make(tmp_path))
    assert (ours.status_code, detail(ours)["error_code"]) == upstream


def test_exactly_five_minutes_is_accepted(viggle_sim, api, tmp_path):
    png = make_png(tmp_path / "hero.png")
    video = make_mp4(tmp_path / "five.mp4", seconds=300.0, fps=4, size=(64, 64))
    upstream, ours = render_both(viggle_sim, api, png, video)
    assert upstream[0] == 200
    assert ours.status_code == 200, ours.content


# --- upstream refusals keep their meaning ---------------------------------------------------

TEMPLATE = "5b3a9c1e-2f4d-4e6a-8b7c-9d0e1f2a3b4c"


def import_template(api):
    return api.post_json("/api/scenes/import", {"template_id": TEMPLATE, "name": "Group Dance"})


@pytest.mark.parametrize("style", ["detail", "legacy"])
def test_too_few_upstream_credits_for_an_import_is_402_cs_uorc01_008(viggle_sim, api, style):
    viggle_sim.set(credits=5, error_style=style)  # an import reserves 15
    response = import_template(api)
    assert response.status_code == 402, response.content
    body = detail(response)
    assert body["error_code"] == "CS-UORC01-008"
    assert "credits" in body["message"]
    # Nothing of it is the member's to pay (however the import books and gives back).
    assert sum(CreditEntry.objects.values_list("credits", flat=True)) == 0
    assert not Asset.objects.filter(kind="template", archived_at__isnull=True).exists()


def test_the_servers_refused_key_is_viggles_401_not_an_outage(viggle_sim, api, settings):
    settings.VIGGLE_API_KEY = "sk-not-the-simulators-key"
    response = import_template(api)
    assert response.status_code == 401, response.content
    body = detail(response)
    assert body["error_code"] == "CS-UORC01-007"
    assert "admin" in body["action"]  # the script's own token is fine: someone must fix ours


def test_an_upstream_429_stays_a_429_with_retry_after(viggle_sim, api):
    viggle_sim.fault("429", count=None, path_prefix="/api/scenes/import", retry_after=7)
    response = import_template(api)
    assert response.status_code == 429, response.content
    assert detail(response)["error_code"] == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1


def test_only_an_upstream_that_cannot_answer_is_our_outage(viggle_sim, api):
    viggle_sim.fault("500", count=None, path_prefix="/api/scenes/import")
    response = import_template(api)
    assert response.status_code == 502, response.content
    assert detail(response)["error_code"] == "UPSTREAM_UNAVAILABLE"


# --- shapes ---------------------------------------------------------------------------------


def openapi_codes(client) -> set[str]:
    doc = client.get("/api/openapi.json").json()
    error = doc["components"]["schemas"]["Error"]
    return set(error["properties"]["detail"]["properties"]["error_code"]["enum"])


def test_without_a_valid_key_every_token_path_is_401_before_anything_else(api, anon_api):
    for method, path in [
        ("post", "/api/render"),
        ("put", "/api/render"),
        ("delete", "/api/render/r_unknown"),
        ("get", "/api/characters"),
        ("patch", "/api/characters/x"),
        ("post", "/api/scenes/import"),
        ("get", "/api/credits"),
        ("post", "/api/credits"),
    ]:
        missing = getattr(anon_api.client, method)(path)
        assert missing.status_code == 401, (method, path, missing.content)
        assert detail(missing)["error_code"] == "CS-UORC01-006"
        wrong = getattr(anon_api.client, method)(
            path, headers={"Authorization": "Bearer sk-not-a-token"}
        )
        assert wrong.status_code == 401, (method, path)
        assert detail(wrong)["error_code"] == "CS-UORC01-007"


def test_our_own_refusals_have_codes_of_their_own_listed_in_the_schema(
    viggle_sim, api, member, settings, tmp_path
):
    from viggle_web.usage.models import Budget

    listed = openapi_codes(api.client)
    # Over the member's budget: 402 like Viggle's, with our code (Viggle's credits are fine).
    Budget.objects.create(user=member, monthly_cap=1)
    png, mp4 = make_png(tmp_path / "a.png"), make_mp4(tmp_path / "b.mp4", seconds=2.0)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        over = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    assert over.status_code == 402
    assert detail(over)["error_code"] == "BUDGET_EXCEEDED"
    assert "budget" in detail(over)["message"]
    # Not found.
    missing = api.delete("/api/render/r_unknown")
    assert missing.status_code == 404 and detail(missing)["error_code"] == "NOT_FOUND"
    # Rate limited.
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 1
    api.get("/api/characters")
    limited = api.get("/api/characters")
    assert limited.status_code == 429 and detail(limited)["error_code"] == "RATE_LIMITED"
    assert {"BUDGET_EXCEEDED", "NOT_FOUND", "RATE_LIMITED"} <= listed
    assert viggle_sim.creates() == []


def prepare_on_the_api(api, png: Path, mp4: Path, **scene_data) -> tuple[str, str]:
    """A character and a scene made through the API, prepared by the worker's own tasks
    against the simulator until Viggle says they are ready."""
    from tests.template_flow import follow_preprocessing
    from viggle_web.assets import tasks as asset_tasks
    from viggle_web.assets.models import ViggleResource

    with png.open("rb") as fh:
        character = api.post("/api/characters/preprocess", {"name": "Hero", "image": fh})
    with mp4.open("rb") as fh:
        scene = api.post("/api/scenes/preprocess", {"name": "Walk", "video": fh, **scene_data})
    assert character.status_code == scene.status_code == 200, (character.content, scene.content)
    for resource in ViggleResource.objects.filter(upstream_id=""):
        asset_tasks.resource_submit(resource.pk)
    follow_preprocessing()
    return character.json()["character_id"], scene.json()["scene_id"]


def follow_render(job_id: str, timeout: float = 60.0) -> RenderJob:
    """Send and follow a job with the worker's own task and poll loop until it is final."""
    import time

    from viggle_web.renders import poller, tasks

    job = RenderJob.objects.get(public_id=job_id)
    if job.status == RenderJob.Status.PENDING and not job.upstream_job_id:
        tasks.job_send(job.pk)
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if job.is_final:
            return job
        assert time.monotonic() < deadline, job.status
        poller.run_loop(seconds=0.5)


def test_mode_is_what_the_script_asked_for(viggle_sim, api, tmp_path):
    png, mp4 = make_png(tmp_path / "hero.png"), make_mp4(tmp_path / "walk.mp4", seconds=1.0)
    character, scene = prepare_on_the_api(api, png, mp4)
    # On demand, with files the gallery has already prepared: still full_pipeline, though we
    # send it to Viggle as a preprocessed render.
    with png.open("rb") as ref, mp4.open("rb") as drv:
        created = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    assert created.status_code == 200, created.content
    assert created.json()["mode"] == "full_pipeline"
    job = follow_render(created.json()["job_id"])
    assert job.status == "complete" and job.upstream_mode == "preprocessed"
    status = api.client.get(f"/api/render/{job.public_id}").json()
    assert status["mode"] == "full_pipeline"
    # By ids: preprocessed; fast: fast.
    by_ids = api.post("/api/render", {"character_id": character, "scene_id": scene})
    assert by_ids.json()["mode"] == "preprocessed"
    fast = api.post("/api/render", {"character_id": character, "scene_id": scene, "fast": "true"})
    assert fast.json()["mode"] == "fast"


def test_mask_cdn_url_is_there_for_transparent_renders_only(viggle_sim, api, tmp_path):
    png, mp4 = make_png(tmp_path / "hero.png"), make_mp4(tmp_path / "walk.mp4", seconds=1.0)
    answers = {}
    for background in ("original", "transparent"):
        with png.open("rb") as ref, mp4.open("rb") as drv:
            created = api.post(
                "/api/render",
                {"ref_image": ref, "driving_video": drv, "background_mode": background},
            )
        job_id = created.json()["job_id"]
        queued = api.client.get(f"/api/render/{job_id}").json()
        assert follow_render(job_id).status == "complete"
        answers[background] = (queued, api.client.get(f"/api/render/{job_id}").json())
    queued, done = answers["original"]
    assert "mask_cdn_url" not in queued and "mask_cdn_url" not in done
    assert done["cdn_url"]
    queued, done = answers["transparent"]
    assert queued["mask_cdn_url"] is None
    mask = api.client.get(done["mask_cdn_url"])
    assert mask.status_code == 200 and mask["Content-Type"] == "video/mp4"


def test_scene_preprocess_honours_background_mode_and_its_default(viggle_sim, api, tmp_path):
    png = make_png(tmp_path / "hero.png")
    clear = make_mp4(tmp_path / "walk.mp4", seconds=1.0)
    character, transparent = prepare_on_the_api(api, png, clear, background_mode="transparent")
    with make_mp4(tmp_path / "run.mp4", seconds=1.5).open("rb") as fh:
        plain = api.post("/api/scenes/preprocess", {"name": "Run", "video": fh}).json()
    assert api.get(f"/api/scenes/{transparent}").json()["background_mode"] == "transparent"
    assert api.get(f"/api/scenes/{plain['scene_id']}").json()["background_mode"] == "original"
    # A render from the transparent scene is transparent unless the script says otherwise.
    response = api.post("/api/render", {"character_id": character, "scene_id": transparent})
    job = RenderJob.objects.get(public_id=response.json()["job_id"])
    assert job.background_mode == "transparent"
    assert api.client.get(f"/api/render/{job.public_id}").json()["mask_cdn_url"] is None
    solid = api.post(
        "/api/render",
        {"character_id": character, "scene_id": transparent, "background_mode": "solid"},
    )
    assert RenderJob.objects.get(public_id=solid.json()["job_id"]).background_mode == "solid"


# --- credits and repeat preprocessing --------------------------------------------------------


def test_credits_tell_a_member_what_they_can_spend(viggle_sim, api, member):
    from viggle_web.usage.models import Budget, OrgBudget

    # No caps: what the organisation's Viggle account holds, asked of Viggle.
    viggle_sim.set_credits(1234)
    body = api.get("/api/credits").json()
    assert (body["balance"], body["balance_source"]) == (1234, "viggle_account")
    assert body["total_used"] == 0 and body["total_purchased"] is None
    assert "unlimited" not in body
    # An organisation cap: its remaining budget.
    OrgBudget.objects.update_or_create(pk=1, defaults={"monthly_cap": 50})
    body = api.get("/api/credits").json()
    assert (body["balance"], body["balance_source"]) == (50, "organisation_budget")
    # The member's own cap: their remaining budget (never more than the organisation's).
    Budget.objects.create(user=member, monthly_cap=20)
    body = api.get("/api/credits").json()
    assert (body["balance"], body["balance_source"]) == (20, "member_budget")
    assert body["monthly_cap"] == 20 and body["organisation_remaining"] == 50
    Budget.objects.filter(user=member).update(monthly_cap=80)
    body = api.get("/api/credits").json()
    assert (body["balance"], body["balance_source"]) == (50, "organisation_budget")
    # Documented in the schema.
    doc = api.client.get("/api/openapi.json").json()
    credits = doc["components"]["schemas"]["Credits"]["properties"]
    assert credits["balance"]["type"] == "number" and "balance_source" in credits


def test_a_repeat_character_preprocess_books_what_viggle_books_and_says_so(
    viggle_sim, api, member, tmp_path
):
    png = make_png(tmp_path / "hero.png")
    answers = []
    for _ in range(2):
        with png.open("rb") as fh:
            answers.append(api.post("/api/characters/preprocess", {"name": "Hero", "image": fh}))
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json()["credits_charged"] for a in answers] == [1, 1]
    # Booked to the member twice, 1 credit each, as two preprocesses cost at Viggle.
    entries = CreditEntry.objects.filter(user=member, kind="character")
    assert sorted(entries.values_list("credits", flat=True)) == [1, 1]
    assert api.get("/api/credits").json()["balance"] == viggle_sim.state()["credits"]
    # The second is a character of its own that reports its credit.
    second = answers[1].json()["character_id"]
    assert second != answers[0].json()["character_id"]
    assert api.get(f"/api/characters/{second}").json()["credits_used"] == 1
    # Over budget, a repeat is refused like a first one.
    from viggle_web.usage.models import Budget

    Budget.objects.create(user=member, monthly_cap=2)
    with png.open("rb") as fh:
        third = api.post("/api/characters/preprocess", {"name": "Hero", "image": fh})
    assert third.status_code == 402 and detail(third)["error_code"] == "BUDGET_EXCEEDED"
    assert entries.count() == 2


# --- errors Viggle gives at create come at create --------------------------------------------


def nothing_kept(viggle_sim) -> None:
    """No job on our side, nothing booked (ledger and its daily rollup), no file kept."""
    from viggle_web.usage.models import UsageDay

    assert not RenderJob.objects.exists()
    assert not CreditEntry.objects.exists() and not UsageDay.objects.exists()
    assert not Asset.objects.exists()


def test_fast_without_capacity_is_400_cs_uorc01_001_at_create(viggle_sim, api, tmp_path):
    viggle_sim.set_capacity(0)
    png, mp4 = make_png(tmp_path / "a.png"), make_mp4(tmp_path / "b.mp4", seconds=2.0)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        response = api.post("/api/render", {"ref_image": ref, "driving_video": drv, "fast": "true"})
    assert response.status_code == 400, response.content
    body = detail(response)
    assert body["error_code"] == "CS-UORC01-001"
    assert "fast" in (body["message"] + body["action"]).lower()
    # Viggle was asked once and said no; nothing of it is kept or booked here.
    assert [c["status"] for c in viggle_sim.creates()] == [400]
    nothing_kept(viggle_sim)
    # With capacity, the same request is a job.
    viggle_sim.set_capacity(None)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        again = api.post("/api/render", {"ref_image": ref, "driving_video": drv, "fast": "true"})
    assert again.status_code == 200 and again.json()["mode"] == "fast"
    assert RenderJob.objects.get().upstream_job_id


def test_too_few_upstream_credits_is_402_cs_uorc01_008_at_create(viggle_sim, api, tmp_path):
    viggle_sim.set_credits(1)  # the render costs 2
    png, mp4 = make_png(tmp_path / "a.png"), make_mp4(tmp_path / "b.mp4", seconds=2.0)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        response = api.post("/api/render", {"ref_image": ref, "driving_video": drv})
    assert response.status_code == 402, response.content
    assert detail(response)["error_code"] == "CS-UORC01-008"
    assert [c["status"] for c in viggle_sim.creates()] == [402]
    nothing_kept(viggle_sim)


def test_a_refusal_by_ids_is_answered_at_create_too(viggle_sim, api, member, tmp_path):
    png, mp4 = make_png(tmp_path / "hero.png"), make_mp4(tmp_path / "walk.mp4", seconds=1.0)
    character, scene = prepare_on_the_api(api, png, mp4)
    booked = sum(CreditEntry.objects.values_list("credits", flat=True))
    viggle_sim.set_capacity(0)
    response = api.post(
        "/api/render", {"character_id": character, "scene_id": scene, "fast": "true"}
    )
    assert response.status_code == 400 and detail(response)["error_code"] == "CS-UORC01-001"
    assert not RenderJob.objects.exists()
    assert sum(CreditEntry.objects.values_list("credits", flat=True)) == booked
    assert not CreditEntry.objects.filter(kind="reserve").exists()
