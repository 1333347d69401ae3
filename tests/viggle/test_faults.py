"""Every fault knob, and what the client does about it: retry what is safe, never start a second
paid job itself, and say `retryable` truthfully."""

from __future__ import annotations

import io
import socket
import time

import pytest

from tests.media_factory import probe_mp4
from viggle_web.viggle.errors import ViggleError
from viggle_web.viggle.types import Upload

pytestmark = pytest.mark.django_db(transaction=True)


def uploads(sim_media) -> dict[str, Upload]:
    return {
        "ref_image": Upload("c.png", io.BytesIO(sim_media.png.read_bytes()), "image/png"),
        "driving_video": Upload("m.mp4", io.BytesIO(sim_media.mp4.read_bytes()), "video/mp4"),
    }


@pytest.mark.parametrize("kind", ["500", "502", "503", "malformed", "drop"])
def test_idempotent_calls_retry_transient_faults_and_succeed(viggle_sim, kind) -> None:
    viggle_sim.fault(kind, count=2, path_prefix="/api/credits")
    with viggle_sim.client() as client:
        assert client.credits().balance == 10_000
    calls = viggle_sim.calls("GET", "/api/credits")
    assert [c["fault"] for c in calls] == [kind, kind, ""]
    assert len(viggle_sim.sleeps) == 2
    assert viggle_sim.sleeps[1] > 0


@pytest.mark.parametrize("kind", ["500", "502", "503", "malformed", "drop"])
def test_transient_faults_raise_retryable_errors_when_retries_run_out(viggle_sim, kind) -> None:
    viggle_sim.fault(kind, count=None, path_prefix="/api/credits")
    with viggle_sim.client(max_retries=1) as client, pytest.raises(ViggleError) as exc:
        client.credits()
    assert exc.value.retryable is True
    assert len(viggle_sim.calls("GET", "/api/credits")) == 2


def test_status_polls_are_retried(viggle_sim, sim_media) -> None:
    with viggle_sim.client() as client:
        job = client.render_create(**uploads(sim_media))
        viggle_sim.fault("503", count=1, path_prefix="/api/render/")
        viggle_sim.fault("drop", count=1, path_prefix="/api/render/")
        assert client.render_status(job.job_id).job_id == job.job_id


def test_429_retry_after_is_honoured(viggle_sim) -> None:
    viggle_sim.fault("429", count=1, retry_after=2, path_prefix="/api/credits")
    with viggle_sim.client() as client:
        client.credits()
    assert viggle_sim.sleeps and viggle_sim.sleeps[0] >= 2


def test_a_long_retry_after_goes_back_to_the_caller(viggle_sim) -> None:
    viggle_sim.fault("429", count=1, retry_after=3600, path_prefix="/api/credits")
    with viggle_sim.client() as client, pytest.raises(ViggleError) as exc:
        client.credits()
    assert exc.value.status == 429 and exc.value.retryable
    assert exc.value.retry_after == 3600
    assert viggle_sim.sleeps == []


def test_a_rate_limited_create_is_repeated_once_into_one_job(viggle_sim, sim_media) -> None:
    viggle_sim.fault("429", count=1, retry_after=1, path_prefix="/api/render", method="POST")
    with viggle_sim.client() as client:
        job = client.render_create(**uploads(sim_media))
    creates = viggle_sim.creates()
    assert [c["status"] for c in creates] == [429, 200]
    assert viggle_sim.state()["credits"] == 10_000 - 2
    assert viggle_sim.wait_for(job.job_id)["status"] == "complete"


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_a_create_answered_5xx_is_not_repeated(viggle_sim, sim_media, kind) -> None:
    viggle_sim.fault(kind, count=1, path_prefix="/api/render", method="POST")
    with viggle_sim.client() as client, pytest.raises(ViggleError) as exc:
        client.render_create(**uploads(sim_media))
    assert exc.value.status == int(kind) and exc.value.retryable
    assert len(viggle_sim.creates()) == 1


@pytest.mark.parametrize("kind", ["drop", "malformed"])
def test_a_create_whose_answer_is_lost_is_ambiguous_and_not_repeated(
    viggle_sim, sim_media, kind
) -> None:
    viggle_sim.fault(kind, count=1, path_prefix="/api/render", method="POST")
    with viggle_sim.client() as client, pytest.raises(ViggleError) as exc:
        client.render_create(**uploads(sim_media))
    assert exc.value.code == "ambiguous"
    assert exc.value.retryable is False
    assert len(viggle_sim.creates()) == 1
    # The job did start upstream (that is why repeating would pay twice).
    assert viggle_sim.state()["credits"] == 10_000 - 2


def test_a_slow_create_times_out_as_ambiguous(viggle_sim, sim_media) -> None:
    viggle_sim.fault("latency", count=1, latency_ms=1500, path_prefix="/api/render")
    with viggle_sim.client(upload_timeout=0.5, timeout=0.5) as client:
        with pytest.raises(ViggleError) as exc:
            client.render_create(**uploads(sim_media))
    assert exc.value.code == "ambiguous" and not exc.value.retryable
    deadline = time.monotonic() + 10
    while viggle_sim.creates()[0]["status"] is None:  # let the slow create finish upstream
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert len(viggle_sim.creates()) == 1


def test_a_slow_read_times_out_and_is_retried(viggle_sim) -> None:
    viggle_sim.fault("latency", count=1, latency_ms=1500, path_prefix="/api/credits")
    with viggle_sim.client(timeout=0.5) as client:
        assert client.credits().balance == 10_000
    assert len(viggle_sim.sleeps) == 1
    # The slow first answer is logged when the simulator gives it, 1.5 s after it began: wait
    # for it here rather than let it land in the next test's call log.
    deadline = time.monotonic() + 10
    while len(viggle_sim.calls("GET", "/api/credits")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_preprocess_is_not_repeated_after_a_dropped_answer(viggle_sim, sim_media) -> None:
    viggle_sim.fault("drop", count=1, path_prefix="/api/characters/preprocess")
    image = Upload("c.png", io.BytesIO(sim_media.png.read_bytes()), "image/png")
    with viggle_sim.client() as client, pytest.raises(ViggleError) as exc:
        client.character_preprocess(name="x", image=image)
    assert exc.value.code == "ambiguous"
    assert len(viggle_sim.calls("POST", "/api/characters/preprocess")) == 1


def test_connect_errors_are_retried_even_for_create(viggle_sim, sim_media) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with viggle_sim.client(base_url=f"http://127.0.0.1:{port}", max_retries=2) as client:
        with pytest.raises(ViggleError) as exc:
            client.render_create(**uploads(sim_media))
    assert exc.value.code == "connection" and exc.value.retryable
    assert len(viggle_sim.sleeps) == 2  # nothing was sent, so repeating was safe


def test_faults_can_be_scoped_to_a_key_and_a_path(viggle_sim, settings) -> None:
    viggle_sim.set_keys([viggle_sim.key, "sk-other"])
    viggle_sim.fault("500", count=None, key="sk-other")
    viggle_sim.fault("500", count=None, path_prefix="/api/scenes")
    with viggle_sim.client(max_retries=0) as client:
        assert client.credits().balance == 10_000
        with pytest.raises(ViggleError):
            client.scene_list()
    with viggle_sim.client(api_key="sk-other", max_retries=0) as other:
        with pytest.raises(ViggleError) as exc:
            other.credits()
    assert exc.value.status == 500


def test_downloads_restart_from_scratch_after_a_drop(viggle_sim, sim_media, tmp_path) -> None:
    with viggle_sim.client() as client:
        job = client.render_create(**uploads(sim_media))
        status = viggle_sim.wait_for(job.job_id)
        viggle_sim.fault("drop", count=1, path_prefix="/cdn/")
        out = tmp_path / "out.mp4"
        with out.open("wb") as fh:
            written = client.download(status["cdn_url"], fh)
    assert written == out.stat().st_size
    assert probe_mp4(out).duration == pytest.approx(2.0, abs=0.1)
    assert [c["fault"] for c in viggle_sim.calls("GET", "/cdn/")] == ["drop", ""]


class _AppendOnly(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, b) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def test_an_unrewindable_sink_is_retried_only_while_nothing_was_written(
    viggle_sim, sim_media
) -> None:
    with viggle_sim.client() as client:
        job = client.render_create(**uploads(sim_media))
        status = viggle_sim.wait_for(job.job_id)
        viggle_sim.fault("drop", count=1, path_prefix="/cdn/")
        sink = _AppendOnly()
        # The drop comes before the first 1 MB chunk is handed over: nothing reached the sink,
        # so starting again is safe, and the sink ends up with exactly one copy.
        written = client.download(status["cdn_url"], sink)  # type: ignore[arg-type]
    assert written == len(sink.data) > 0
    assert len(viggle_sim.calls("GET", "/cdn/")) == 2


def test_an_expired_cdn_url_is_permanent(viggle_sim) -> None:
    with viggle_sim.client() as client, pytest.raises(ViggleError) as exc:
        client.download(f"{viggle_sim.base_url}/cdn/renders/gone.mp4", io.BytesIO())
    assert exc.value.status == 404 and not exc.value.retryable
