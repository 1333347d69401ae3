"""The client against the simulator over real HTTP: every endpoint and every documented error.

Run against the real API with VIGGLE_REAL_API=1 VIGGLE_API_KEY=sk-... (costs credits).
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.media_factory import make_mp4, probe_mp4
from viggle_web.viggle.errors import ViggleError
from viggle_web.viggle.types import Upload

pytestmark = pytest.mark.django_db(transaction=True)


def png(path: Path) -> Upload:
    return Upload(path.name, io.BytesIO(path.read_bytes()), "image/png")


def mp4(path: Path) -> Upload:
    return Upload(path.name, io.BytesIO(path.read_bytes()), "video/mp4")


def assert_error(exc: pytest.ExceptionInfo[ViggleError], code: str, status: int = 400) -> None:
    assert exc.value.code == code, exc.value
    assert exc.value.status == status
    assert exc.value.retryable is False
    assert exc.value.message


# --- renders -----------------------------------------------------------------------------------


def test_on_demand_render_completes_with_a_playable_mp4(api, sim_media, tmp_path) -> None:
    before = api.client.credits().balance
    created = api.client.render_create(
        ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4)
    )
    assert created.job_id and created.status == "queued"
    assert created.mode == "full_pipeline"
    seen = set()
    while True:
        status = api.client.render_status(created.job_id)
        seen.add(status.status)
        if status.is_final:
            break
    assert status.is_complete and status.progress_pct == 100
    assert status.checkpoint == "render_done"
    assert status.mask_cdn_url is None
    out = tmp_path / "out.mp4"
    with out.open("wb") as fh:
        written = api.client.download(status.cdn_url, fh)
    assert written == out.stat().st_size > 0
    facts = probe_mp4(out)
    assert facts.codec == "h264"
    assert facts.duration == pytest.approx(2.0, abs=0.1)
    assert api.client.credits().balance == before - 2
    if api.sim:
        assert "processing" in seen or "queued" in seen
        polls = api.sim.calls("GET", f"/api/render/{created.job_id}")
        assert polls and not any(c["has_auth_header"] for c in polls)
        cdn = api.sim.calls("GET", "/cdn/")
        assert cdn and not any(c["has_auth_header"] for c in cdn)


def test_status_fields_follow_the_contract(api, sim_media) -> None:
    sim = api.need_sim()
    sim.set_speed(0.5)
    created = api.client.render_create(
        ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4)
    )
    status = api.client.render_status(created.job_id)
    assert status.status in ("queued", "processing")
    raw = status.raw
    for key in ("job_id", "status", "mode", "progress_pct", "created_at", "chunks", "progress"):
        assert key in raw
    assert raw["chunks"] == []
    assert set(raw["progress"]) == {"completed_chunks", "total_chunks", "percent"}


def test_transparent_render_also_yields_a_mask(api, sim_media, tmp_path) -> None:
    created = api.client.render_create(
        ref_image=png(sim_media.png),
        driving_video=mp4(sim_media.mp4),
        background_mode="transparent",
    )
    status = api.wait_for(created.job_id)
    assert status.is_complete and status.mask_cdn_url
    mask = tmp_path / "mask.mp4"
    with mask.open("wb") as fh:
        api.client.download(status.mask_cdn_url, fh)
    assert probe_mp4(mask).duration == pytest.approx(2.0, abs=0.1)


def test_solid_fast_render_costs_double(api, sim_media) -> None:
    before = api.client.credits().balance
    created = api.client.render_create(
        ref_image=png(sim_media.png),
        driving_video=mp4(sim_media.mp4),
        background_mode="solid",
        bg_color="10,20,30",
        fast=True,
        model="V3_Preview",
    )
    assert created.mode == "fast"
    assert api.client.credits().balance == before - 4
    assert api.wait_for(created.job_id).is_complete


def test_url_inputs_are_fetched(api, sim_media, media_server) -> None:
    api.need_sim()
    (media_server.root / "c.png").write_bytes(sim_media.png.read_bytes())
    (media_server.root / "m.mp4").write_bytes(sim_media.mp4.read_bytes())
    created = api.client.render_create(
        ref_image_url=media_server.url("c.png"), driving_video_url=media_server.url("m.mp4")
    )
    assert api.wait_for(created.job_id).is_complete


def test_cancel_refunds_and_a_second_cancel_is_refused(api, sim_media) -> None:
    sim = api.need_sim()
    sim.set_speed(0.05)
    before = api.client.credits().balance
    created = api.client.render_create(
        ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4)
    )
    assert api.client.credits().balance == before - 2
    body = api.client.render_cancel(created.job_id)
    assert body["status"] == "cancelled"
    assert api.client.render_status(created.job_id).is_cancelled
    assert api.client.credits().balance == before
    with pytest.raises(ViggleError) as exc:
        api.client.render_cancel(created.job_id)
    assert_error(exc, "CS-UORC01-002")


def test_a_failing_job_reports_cs_uorc01_009_and_refunds(api, sim_media) -> None:
    sim = api.need_sim()
    sim.set(fail_next_jobs=1)
    before = api.client.credits().balance
    created = api.client.render_create(
        ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4)
    )
    status = api.wait_for(created.job_id)
    assert status.is_failed and status.is_final
    assert status.error_code == "CS-UORC01-009"
    assert status.error_message
    assert api.client.credits().balance == before


def test_unknown_job_is_a_permanent_404(api) -> None:
    with pytest.raises(ViggleError) as exc:
        api.client.render_status("job_does_not_exist")
    assert exc.value.status == 404 and not exc.value.retryable


# --- characters, scenes, templates ---------------------------------------------------------------


def test_characters_preprocess_get_list_delete(api, sim_media) -> None:
    before = api.client.credits().balance
    made = [
        api.client.character_preprocess(name=f"hero {i}", image=png(sim_media.png))
        for i in range(3)
    ]
    assert all(m.id and m.job_id and m.status == "pending" for m in made)
    assert api.client.credits().balance == before - 3
    ready = api.wait_ready(api.client.character_get, made[0].id)
    assert ready.is_ready and ready.name == "hero 0" and ready.credits_used == 1
    page, total = api.client.character_list(limit=2, offset=0)
    assert total >= 3 and len(page) == 2
    rest, _ = api.client.character_list(limit=100, offset=2)
    assert {c.id for c in page} | {c.id for c in rest} >= {m.id for m in made}
    api.client.character_delete(made[1].id)
    with pytest.raises(ViggleError) as exc:
        api.client.character_get(made[1].id)
    assert exc.value.code == "CS-ORIV-008" and exc.value.status == 404


@pytest.mark.parametrize("limit", [0, 101])
def test_list_limit_must_be_1_to_100(api, limit) -> None:
    with pytest.raises(ViggleError) as exc:
        api.client.character_list(limit=limit)
    assert exc.value.status in (400, 422) and not exc.value.retryable


def test_scenes_preprocess_get_list_delete(api, sim_media) -> None:
    before = api.client.credits().balance
    made = api.client.scene_preprocess(
        name="dance", video=mp4(sim_media.mp4), background_mode="original", model="V3_Preview"
    )
    assert made.id and made.status == "pending"
    scene = api.wait_ready(api.client.scene_get, made.id)
    assert scene.is_ready
    assert scene.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert (scene.width, scene.height, scene.total_frames) == (160, 120, 24)
    assert scene.fps == pytest.approx(12)
    assert api.client.credits().balance == before  # scenes are free
    scenes, total = api.client.scene_list(limit=10)
    assert made.id in {s.id for s in scenes} and total >= 1
    api.client.scene_delete(made.id)
    with pytest.raises(ViggleError) as exc:
        api.client.scene_get(made.id)
    assert exc.value.code == "CS-ORIV-009"


def test_preprocessed_render_uses_character_and_scene(api, sim_media, tmp_path) -> None:
    character = api.client.character_preprocess(name="c", image=png(sim_media.png))
    scene = api.client.scene_preprocess(name="s", video=mp4(sim_media.mp4))
    api.wait_ready(api.client.character_get, character.id)
    api.wait_ready(api.client.scene_get, scene.id)
    created = api.client.render_create(character_id=character.id, scene_id=scene.id, fast=True)
    assert created.mode == "fast"
    created = api.client.render_create(character_id=character.id, scene_id=scene.id)
    assert created.mode == "preprocessed"
    status = api.wait_for(created.job_id)
    assert status.is_complete
    out = tmp_path / "out.mp4"
    with out.open("wb") as fh:
        api.client.download(status.cdn_url, fh)
    assert probe_mp4(out).duration == pytest.approx(2.0, abs=0.1)


def test_template_import_and_multi_character_render(api, sim_media, tmp_path) -> None:
    before = api.client.credits().balance
    template = api.client.template_import(template_id=str(uuid.uuid4()), name="Group Dance")
    assert template.id and len(template.segments) == 2
    assert all(s.uuid and s.type == "human" for s in template.segments)
    assert template.credits_reserved
    assert api.client.credits().balance == before - template.credits_reserved
    alice = api.client.character_preprocess(name="alice", image=png(sim_media.png))
    api.wait_ready(api.client.character_get, alice.id)
    api.wait_ready(api.client.scene_get, template.id)
    # Partial mapping: the second person keeps their look.
    created = api.client.render_create(
        scene_id=template.id, character_mapping={template.segments[0].uuid: alice.id}
    )
    status = api.wait_for(created.job_id)
    assert status.is_complete
    out = tmp_path / "group.mp4"
    with out.open("wb") as fh:
        api.client.download(status.cdn_url, fh)
    assert probe_mp4(out).frames > 0


def test_a_video_template_has_no_segments(api) -> None:
    sim = api.need_sim()
    sim.set(template_people=0)
    template = api.client.template_import(template_id=str(uuid.uuid4()), name="Solo")
    assert template.segments == []


# --- every documented error code ---------------------------------------------------------------


@pytest.fixture
def bad_media(tmp_path: Path) -> SimpleNamespace:
    garbage = tmp_path / "garbage.mp4"
    # Starts like an MP4 (its first box) and is garbage after: damaged, CS-ORIV-007. A file
    # that is no video container at all is CS-ORIV-003 (the case above).
    garbage.write_bytes(
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x01junk" * 5000
    )
    return SimpleNamespace(
        garbage=garbage,
        long=make_mp4(tmp_path / "long.mp4", seconds=301, size=(64, 64), fps=1),
        wide=make_mp4(tmp_path / "wide.mp4", seconds=0.6, size=(4112, 64), fps=5),
        short=make_mp4(tmp_path / "short.mp4", seconds=0.25, size=(64, 64), fps=12),
    )


def test_validation_errors_of_render_create(api, sim_media, bad_media) -> None:
    c = api.client
    image, video = sim_media.png, sim_media.mp4
    cases = [
        ("CS-ORIV-001", {"driving_video": mp4(video)}),
        ("CS-ORIV-002", {"ref_image": png(image)}),
        ("CS-ORIV-003", {"ref_image": png(image), "driving_video": mp4(image)}),
        ("CS-ORIV-004", {"ref_image": png(image), "driving_video": mp4(bad_media.long)}),
        ("CS-ORIV-006", {"ref_image": png(image), "driving_video": mp4(bad_media.wide)}),
        ("CS-ORIV-007", {"ref_image": png(image), "driving_video": mp4(bad_media.garbage)}),
        ("CS-ORIV-009", {"scene_id": "scene_missing", "character_mapping": {"p": "c"}}),
        (
            "CS-ORIV-011",
            {"ref_image": png(image), "driving_video": mp4(video), "background_mode": "blur"},
        ),
        (
            "CS-UORC01-002",
            {"ref_image": png(image), "driving_video": mp4(video), "bg_color": "#00ff00"},
        ),
        (
            "CS-UORC01-002",
            {"ref_image": png(image), "driving_video": mp4(video), "bg_color": "256,0,0"},
        ),
        ("CS-UORC01-002", {"ref_image": png(image), "driving_video": mp4(video), "model": "V9"}),
        (
            "CS-UORC01-002",
            {
                "ref_image": png(image),
                "ref_image_url": "http://127.0.0.1:9/x.png",
                "driving_video": mp4(video),
            },
        ),
        (
            "CS-UORC01-002",
            {
                "ref_image": png(image),
                "driving_video_url": "http://127.0.0.1:9/x.mp4",
                "fast": True,
            },
        ),
        (
            "CS-UORC01-002",
            {"ref_image": png(image), "driving_video": mp4(video), "character_id": "x"},
        ),
    ]
    for code, kwargs in cases:
        with pytest.raises(ViggleError) as exc:
            c.render_create(**kwargs)
        assert exc.value.code == code, (code, kwargs, exc.value)
        assert exc.value.status == 400 and not exc.value.retryable
    if api.sim:
        assert api.sim.state()["credits"] == 10_000  # nothing charged


def test_a_file_over_500_mb_is_cs_oriv_005(api, sim_media, tmp_path) -> None:
    api.need_sim()
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:
        fh.truncate(500 * 1024 * 1024 + 1024)  # sparse: costs no disk
    with big.open("rb") as fh, pytest.raises(ViggleError) as exc:
        api.client.render_create(
            ref_image=png(sim_media.png), driving_video=Upload("big.mp4", fh, "video/mp4")
        )
    assert_error(exc, "CS-ORIV-005")


def test_scene_and_mapping_errors(api, sim_media, bad_media) -> None:
    sim = api.need_sim()
    character = api.client.character_preprocess(name="c", image=png(sim_media.png))
    api.wait_ready(api.client.character_get, character.id)
    v3 = api.client.scene_preprocess(name="v3", video=mp4(sim_media.mp4), model="V3_Preview")
    api.wait_ready(api.client.scene_get, v3.id)
    template = api.client.template_import(template_id=str(uuid.uuid4()), name="t")
    api.wait_ready(api.client.scene_get, template.id)
    checks = [
        ("CS-UORC01-002", {"character_id": character.id, "scene_id": v3.id, "model": "V4_Preview"}),
        ("CS-ORIV-012", {"scene_id": template.id, "character_mapping": {"nobody": character.id}}),
        (
            "CS-ORIV-008",
            {
                "scene_id": template.id,
                "character_mapping": {template.segments[0].uuid: "char_missing"},
            },
        ),
        ("CS-ORIV-001", {"scene_id": v3.id}),
        ("CS-ORIV-002", {"character_id": character.id}),
    ]
    for code, kwargs in checks:
        with pytest.raises(ViggleError) as exc:
            api.client.render_create(**kwargs)
        assert exc.value.code == code, (code, kwargs, exc.value)
    # A scene still being prepared.
    sim.set_speed(0.01)
    pending = api.client.scene_preprocess(name="slow", video=mp4(sim_media.mp4))
    with pytest.raises(ViggleError) as exc:
        api.client.render_create(character_id=character.id, scene_id=pending.id)
    assert_error(exc, "CS-ORIV-010")
    # Scenes have a minimum length and size; bad background mode.
    with pytest.raises(ViggleError) as exc:
        api.client.scene_preprocess(name="short", video=mp4(bad_media.short))
    assert_error(exc, "CS-UORC01-002")
    with pytest.raises(ViggleError) as exc:
        api.client.scene_preprocess(name="x", video=mp4(sim_media.mp4), background_mode="blur")
    assert_error(exc, "CS-ORIV-011")
    with pytest.raises(ViggleError) as exc:
        api.client.character_preprocess(name="no image")
    assert_error(exc, "CS-ORIV-001")
    with pytest.raises(ViggleError) as exc:
        api.client.template_import(template_id="not-a-uuid", name="x")
    assert_error(exc, "CS-UORC01-002")


def test_fast_mode_without_capacity_is_cs_uorc01_001(api, sim_media) -> None:
    sim = api.need_sim()
    sim.set_capacity(0)
    with pytest.raises(ViggleError) as exc:
        api.client.render_create(
            ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4), fast=True
        )
    assert_error(exc, "CS-UORC01-001")
    assert "Fast mode has no capacity" in exc.value.human_message
    sim.set_capacity(1)
    api.client.render_create(
        ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4), fast=True
    )
    with pytest.raises(ViggleError) as exc:  # the one slot is taken
        api.client.render_create(
            ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4), fast=True
        )
    assert exc.value.code == "CS-UORC01-001"


@pytest.mark.parametrize("style", ["detail", "legacy"])
def test_insufficient_credits_is_402_cs_uorc01_008(api, sim_media, style) -> None:
    sim = api.need_sim()
    sim.set(credits=1, error_style=style)
    with pytest.raises(ViggleError) as exc:
        api.client.render_create(ref_image=png(sim_media.png), driving_video=mp4(sim_media.mp4))
    assert_error(exc, "CS-UORC01-008", status=402)
    assert sim.state()["credits"] == 1


@pytest.mark.parametrize("style", ["detail", "legacy"])
def test_missing_and_invalid_keys_are_401(api, style) -> None:
    sim = api.need_sim()
    sim.set(error_style=style)
    with sim.client(api_key="") as nokey, pytest.raises(ViggleError) as exc:
        nokey.credits()
    assert_error(exc, "CS-UORC01-006", status=401)
    with sim.client(api_key="sk-wrong") as wrong, pytest.raises(ViggleError) as exc:
        wrong.credits()
    assert_error(exc, "CS-UORC01-007", status=401)
