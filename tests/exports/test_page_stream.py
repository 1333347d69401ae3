"""The job page's exports section follows an export live over SSE, like a render: queued,
making (with its percentage), ready with its download link; and who may ask for one."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from viggle_web.exports import tasks
from viggle_web.exports.models import Export

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_stream_sends_the_section_until_the_export_is_ready(member_client, transparent_job):
    job = transparent_job
    since = timezone.now().isoformat()
    member_client.post(reverse("exports:request", args=[job.public_id]), {"format": "mov"})
    page = member_client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    stream_url = reverse("exports:stream", args=[job.public_id])
    assert stream_url in page and f'sse-swap="exports-{job.public_id}"' in page

    response = member_client.get(stream_url, {"since": since})
    assert response["Content-Type"] == "text/event-stream"
    chunks = iter(response.streaming_content)
    export_id = Export.objects.get().pk

    def work() -> None:
        try:
            tasks.export_make(export_id)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    events: list[str] = []
    try:
        while not events or "Ready" not in events[-1]:
            chunk = next(chunks).decode()
            if chunk.startswith("id:"):
                events.append(chunk)
                if len(events) == 1:
                    worker.start()  # the worker starts once the page follows the stream
            assert len(events) < 500
    finally:
        response.close()
        if worker.is_alive() or worker.ident:
            worker.join()
    assert all(f"event: exports-{job.public_id}" in e for e in events)
    assert "Queued" in events[0]
    assert reverse("exports:download", args=[job.public_id, "mov"]) in events[-1]
    assert 'data-status="complete"' in events[-1]


def test_only_the_owner_or_an_admin_may_ask_for_an_export(
    transparent_job, client, other_member, admin_client
):
    job = transparent_job
    url = reverse("exports:request", args=[job.public_id])
    client.force_login(other_member)
    page = client.get(reverse("renders:detail", args=[job.public_id])).content.decode()
    assert "Exports with transparency" in page and "Make WebM" not in page  # team reads
    assert client.post(url, {"format": "webm"}).status_code == 403
    assert client.get(url).status_code == 405  # POST only
    assert not Export.objects.exists()
    response = admin_client.post(url, {"format": "png"})
    assert response.status_code == 302
    assert Export.objects.get().requested_by.is_admin
