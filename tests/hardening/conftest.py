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
