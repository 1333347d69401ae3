"""Fixtures for the hardening tests: the shared ones (users, simulator) plus media made once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.media_factory import make_jpg, make_mp4, make_png
from tests.viggle_fixtures import *  # noqa: F403


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> SimpleNamespace:
    """Small real media, made once for the whole session (PyAV encoding is not free)."""
    root: Path = tmp_path_factory.mktemp("hardening-media")
    return SimpleNamespace(
        png=make_png(root / "hero.png"),
        jpg=make_jpg(root / "poster.jpg"),
        mp4=make_mp4(root / "dance.mp4", seconds=1.0, fps=8),
    )


@pytest.fixture
def assets(member, media_files):
    """A character image and a 1-second motion video owned by `member`, with real files."""
    from tests.renders.factories import asset_with_file

    character = asset_with_file(owner=member, kind="image", path=media_files.png, name="Hero")
    motion = asset_with_file(owner=member, kind="video", path=media_files.mp4, name="Dance")
    return character, motion
