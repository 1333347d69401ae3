"""No message a member (or anyone, through the token-less status endpoint) can read carries a
server path, what a host resolved to, a stack trace or an upstream id (issue 14, point 8)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from tests.gateway.conftest import Api
from viggle_web.core.messages import public_message
from viggle_web.gateway.services import token_create
from viggle_web.renders import tasks
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(member) -> Api:
    return Api(Client(), token_create(user=member, name="script").raw)


def test_a_lost_input_file_fails_the_job_without_a_path(
    settings, api, media_files, media_root
) -> None:
    settings.VIGGLE_BASE_URL = "http://127.0.0.1:9"
    settings.VIGGLE_MAX_RETRIES = 0
    with media_files.png.open("rb") as image, media_files.mp4.open("rb") as video:
        created = api.post("/api/render", {"ref_image": image, "driving_video": video})
    assert created.status_code == 200, created.content
    job = RenderJob.objects.get()
    # The storage lost the files (a disk replaced, a bucket emptied) before the worker sent it.
    default_storage.delete(job.character.file.name)
    default_storage.delete(job.motion.file.name)
    tasks.job_send(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    status = Client().get(f"/api/render/{job.public_id}").json()  # no token needed
    message = status["error_message"]
    assert message and "could not be read" in message
    assert str(media_root) not in message and "/" not in message and "Errno" not in message
    assert str(media_root) not in job.error_message


def test_an_ssrf_refusal_does_not_say_what_the_name_resolved_to(settings, api) -> None:
    settings.ALLOW_PRIVATE_FETCH = False
    response = api.post(
        "/api/characters/preprocess", {"name": "x", "image_url": "http://localhost:9/a.png"}
    )
    assert response.status_code == 400
    message = response.json()["detail"]["message"]
    assert "localhost" in message and "127.0.0.1" not in message and "::1" not in message


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("[Errno 2] No such file or directory: '/srv/media/assets/a.png'", "/srv/media"),
        ("cannot identify image file '/tmp/tmpab12cd.upload.png'", "/tmp/"),
        ("failed at C:\\data\\media\\x.mp4", "C:\\data"),
        ('Traceback (most recent call last):\n  File "x.py", line 3', "Traceback"),
        ("upstream job job_8f3a9c2d1e failed", "job_8f3a9c2d1e"),
        ("connect to 10.1.2.3:443 refused", "10.1.2.3"),
    ],
)
def test_public_messages_drop_internal_details(raw: str, leak: str) -> None:
    cleaned = public_message(raw, upstream_ids=["job_8f3a9c2d1e"])
    assert leak not in cleaned
    assert cleaned.strip()
