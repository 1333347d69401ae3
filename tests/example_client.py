"""The Viggle docs' Python quick-start, as existing team scripts copy it, shared by the tests
that prove a server "works unchanged" (the simulator, and the app's own API)."""

from __future__ import annotations

import time

import requests


def documented_example(
    base: str,
    api_key: str,
    image: str,
    video: str,
    out: str,
    data: dict | None = None,
    files: bool = True,
    poll_seconds: float = 0.2,
    timeout: float = 120.0,
) -> str:
    """Upload, poll, download, exactly as the docs do: the key only on the POST, no headers on
    the polls or on the download. Only the poll interval (3 s in the docs) is shortened.
    Returns the job id."""
    headers = {"Authorization": f"Bearer {api_key}"}
    if files:
        with open(image, "rb") as ref_image, open(video, "rb") as driving_video:
            response = requests.post(
                f"{base}/api/render",
                headers=headers,
                files={"ref_image": ref_image, "driving_video": driving_video},
                data=data,
            )
    else:
        response = requests.post(f"{base}/api/render", headers=headers, data=data)
    response.raise_for_status()
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + timeout
    while True:
        status = requests.get(f"{base}/api/render/{job_id}").json()
        if status["status"] == "complete":
            break
        if status["status"] == "failed":
            raise RuntimeError(status["error_message"])
        assert time.monotonic() < deadline, status
        time.sleep(poll_seconds)
    video_bytes = requests.get(status["cdn_url"]).content
    with open(out, "wb") as fh:
        fh.write(video_bytes)
    return job_id
