"""A 300 MB upload streams: the client process's peak memory grows by well under 50 MB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media_factory import make_png

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = r"""
import json, resource, sys, tracemalloc
sys.path.insert(0, sys.argv[1])
from viggle_web.viggle.client import ViggleClient
from viggle_web.viggle.errors import ViggleError
from viggle_web.viggle.types import Upload
base, key, image, video = sys.argv[2:6]
client = ViggleClient(base_url=base, api_key=key, timeout=30, upload_timeout=120, max_retries=0)
client.credits()  # warm up: imports and the connection pool exist before measuring
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
code = None
with open(image, "rb") as ref, open(video, "rb") as drv:
    try:
        client.render_create(
            ref_image=Upload("c.png", ref, "image/png"),
            driving_video=Upload("big.mp4", drv, "video/mp4"),
        )
    except ViggleError as exc:
        code = exc.code
_, peak = tracemalloc.get_traced_memory()
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
growth = (rss_after - rss_before) * 1024
print(json.dumps({"code": code, "traced_peak": peak, "rss_growth": growth}))
"""


def test_a_300_mb_upload_streams_in_bounded_memory(viggle_sim, tmp_path) -> None:
    image = make_png(tmp_path / "c.png")
    video = tmp_path / "big.mp4"
    with video.open("wb") as fh:
        # An MP4's first box, then sparse zeros: a damaged video (CS-ORIV-007), 300 MB on the wire.
        fh.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        fh.truncate(300 * 1024 * 1024)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(REPO),
            viggle_sim.base_url,
            viggle_sim.key,
            str(image),
            str(video),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The simulator read all of it (into a temp file) and found it is no video.
    assert report["code"] == "CS-ORIV-007"
    assert report["traced_peak"] < 50 * 1024 * 1024, report
    assert report["rss_growth"] < 50 * 1024 * 1024, report
    assert len(viggle_sim.creates()) == 1
