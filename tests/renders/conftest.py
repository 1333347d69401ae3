import pytest

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.viggle_fixtures import *  # noqa: F403


@pytest.fixture
def assets(member, tmp_path):
    character = asset_with_file(
        owner=member, kind="image", path=make_png(tmp_path / "hero.png"), name="Hero"
    )
    motion = asset_with_file(
        owner=member,
        kind="video",
        path=make_mp4(tmp_path / "dance.mp4", seconds=2.0),
        name="Dance",
    )
    return character, motion
