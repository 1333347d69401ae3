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
