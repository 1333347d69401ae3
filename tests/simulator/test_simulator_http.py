"""The simulator as an HTTP service: auth on every endpoint, documented shapes, the control
endpoint, and the stand-alone `manage.py viggle_simulator` server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.urls import URLResolver, get_resolver

from tests.media_factory import make_mp4, make_png

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]

PROTECTED = [
    ("POST", "/api/render"),
    ("DELETE", "/api/render/job_x"),
    ("POST", "/api/characters/preprocess"),
    ("GET", "/api/characters"),
    ("GET", "/api/characters/x"),
    ("DELETE", "/api/characters/x"),
    ("POST", "/api/scenes/preprocess"),
    ("POST", "/api/scenes/import"),
    ("GET", "/api/scenes"),
    ("GET", "/api/scenes/x"),
    ("DELETE", "/api/scenes/x"),
    ("GET", "/api/credits"),
]


def test_the_documented_paths_are_at_the_simulators_root(viggle_sim) -> None:
    base = viggle_sim.base_url
    assert not base.endswith("/_sim")
    assert httpx.get(f"{base}/control").status_code == 200
    assert httpx.get(f"{base}/api/render/job_1").status_code == 404
    assert httpx.get(f"{base}/cdn/a/b.mp4").status_code == 404


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_endpoint_but_status_and_cdn_needs_a_key(viggle_sim, method, path) -> None:
    url = viggle_sim.base_url + path
    missing = httpx.request(method, url)
    assert missing.status_code == 401
    assert isinstance(missing.json()["detail"], str)
    wrong = httpx.request(method, url, headers={"Authorization": "Bearer sk-nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"]["error_code"] == "CS-UORC01-007"
    assert set(wrong.json()["detail"]) == {"error_code", "message", "action"}


def test_status_of_an_unknown_job_needs_no_key_and_is_404(viggle_sim) -> None:
    response = httpx.get(f"{viggle_sim.base_url}/api/render/job_missing")
    assert response.status_code == 404


def test_invalid_mapping_json_is_cs_oriv_012(viggle_sim) -> None:
    response = httpx.post(
        f"{viggle_sim.base_url}/api/render",
        headers={"Authorization": f"Bearer {viggle_sim.key}"},
        data={"scene_id": "s", "character_mapping": "{not json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"]["error_code"] == "CS-ORIV-012"


def test_the_old_characters_field_name_is_accepted(viggle_sim) -> None:
    response = httpx.post(
        f"{viggle_sim.base_url}/api/render",
        headers={"Authorization": f"Bearer {viggle_sim.key}"},
        data={"scene_id": "missing", "characters": '{"p": "c"}'},
    )
    assert response.json()["detail"]["error_code"] == "CS-ORIV-009"


def test_the_calls_log_records_what_was_asked(viggle_sim) -> None:
    httpx.get(f"{viggle_sim.base_url}/api/credits")
    httpx.get(
        f"{viggle_sim.base_url}/api/credits",
        headers={"Authorization": f"Bearer {viggle_sim.key}"},
    )
    calls = viggle_sim.calls("GET", "/api/credits")
    assert [(c["status"], c["authorized"]) for c in calls] == [(401, False), (200, True)]
    assert viggle_sim.creates() == []


def test_control_rejects_unknown_actions_and_values(viggle_sim) -> None:
    assert httpx.post(viggle_sim.control_url, json={"action": "explode"}).status_code == 400
    bad = httpx.post(viggle_sim.control_url, json={"action": "fault", "kind": "meteor"})
    assert bad.status_code == 400
    assert viggle_sim.set(speed=5, credits=42)["credits"] == 42


def test_the_app_never_serves_the_simulator(client, settings) -> None:
    """Not mounted at /_sim/ (or anywhere) on the app's port, and not one of its apps."""
    assert "viggle_web.simulator" not in settings.INSTALLED_APPS
    for path in ("/_sim/control", "/_sim/api/credits", "/control", "/cdn/x.mp4"):
        response = client.get(path)
        assert response.status_code in (302, 404), path  # 302: the login page, for a page
    names = {p.namespace for p in get_resolver().url_patterns if isinstance(p, URLResolver)}
    assert "simulator" not in names


def test_the_render_is_made_once_under_concurrent_polls(viggle_sim, sim_media) -> None:
    import concurrent.futures

    with viggle_sim.client() as client:
        from viggle_web.viggle.types import Upload

        job = client.render_create(
            ref_image=Upload("c.png", sim_media.png.open("rb"), "image/png"),
            driving_video=Upload("m.mp4", sim_media.mp4.open("rb"), "video/mp4"),
        )
    time.sleep(1.0)  # 16 s / speed 20 = 0.8 s: the job is due
    url = f"{viggle_sim.base_url}/api/render/{job.job_id}"
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda _: httpx.get(url, timeout=30).json(), range(6)))
    final = viggle_sim.wait_for(job.job_id)
    urls = {b["cdn_url"] for b in bodies if b["status"] == "complete"} | {final["cdn_url"]}
    assert len(urls) == 1  # one output, not one per racing reader


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_standalone_server_serves_the_api_at_the_root(tmp_path) -> None:
    env = {
        **os.environ,
        "DEBUG": "true",
        "VIGGLE_SIMULATOR_ENABLED": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sim.db'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "VIGGLE_SIMULATOR_SPEED": "20",
        "DJANGO_SETTINGS_MODULE": "viggle_web.settings",
    }
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=REPO, timeout=120)
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "viggle_simulator", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": "Bearer sk-simulator-local-dev"}
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"{base}/api/credits", headers=headers)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["balance"] == 10_000
        png, mp4 = make_png(tmp_path / "c.png"), make_mp4(tmp_path / "m.mp4")
        with png.open("rb") as ref, mp4.open("rb") as drv:
            created = httpx.post(
                f"{base}/api/render",
                headers=headers,
                files={"ref_image": ref, "driving_video": drv},
            ).json()
        while True:
            status = httpx.get(f"{base}/api/render/{created['job_id']}", timeout=30).json()
            if status["status"] == "complete":
                break
            assert time.monotonic() < deadline + 30
            time.sleep(0.1)
        assert status["cdn_url"].startswith(f"{base}/cdn/")
        assert httpx.get(status["cdn_url"]).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
