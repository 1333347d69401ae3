"""The docs' quick-start client (requests), unchanged but for BASE and the key, must work."""

from __future__ import annotations

import pytest

from tests.example_client import documented_example
from tests.media_factory import probe_mp4

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"background_mode": "solid", "bg_color": "0,255,0", "fast": "true"},
        {"model": "V3_Preview"},
    ],
    ids=["plain", "solid-fast", "v3"],
)
def test_the_documented_example_works_unchanged(viggle_sim, sim_media, tmp_path, data) -> None:
    out = tmp_path / "output.mp4"
    documented_example(
        viggle_sim.base_url, viggle_sim.key, str(sim_media.png), str(sim_media.mp4), str(out), data
    )
    facts = probe_mp4(out)
    assert facts.duration == pytest.approx(2.0, abs=0.1)
    assert facts.frames == 24


def test_the_url_variant_works_unchanged(viggle_sim, sim_media, media_server, tmp_path) -> None:
    (media_server.root / "c.png").write_bytes(sim_media.png.read_bytes())
    (media_server.root / "m.mp4").write_bytes(sim_media.mp4.read_bytes())
    out = tmp_path / "output.mp4"
    documented_example(
        viggle_sim.base_url,
        viggle_sim.key,
        "",
        "",
        str(out),
        {
            "ref_image_url": media_server.url("c.png"),
            "driving_video_url": media_server.url("m.mp4"),
        },
        files=False,
    )
    assert probe_mp4(out).duration == pytest.approx(2.0, abs=0.1)
