"""Scale-out: with REDIS_URL set, the worker cluster takes its tasks from django-q2's Redis
broker (the option for many worker machines) and a render completes through it.

Needs the ``redis-server`` binary (Debian package redis-server) and the ``redis`` extra
(pip install -e '.[redis]'), both installed by bin/test; the ``redis_url`` fixture
(tests/conftest.py) starts a server of the test's own.
"""

from __future__ import annotations

import pytest

from tests.media_factory import make_mp4, make_png
from tests.renders.factories import asset_with_file
from tests.workers import QCluster, wait_until
from viggle_web.batches.models import Result
from viggle_web.renders import services
from viggle_web.renders.models import RenderJob

pytestmark = pytest.mark.django_db(transaction=True)

redis = pytest.importorskip(
    "redis", reason="the redis extra is not installed: pip install -e '.[redis]'"
)


def _redis_broker(url: str):
    """A django-q2 Redis broker on ``url`` for this (ORM-configured) test process."""
    from django_q.brokers.redis_broker import Redis

    class TestRedis(Redis):
        @staticmethod
        def get_connection(list_key: str | None = None):
            return redis.from_url(url)

    return TestRedis(list_key="viggle")


def test_a_render_completes_through_the_redis_broker(member, tmp_path, viggle_sim, redis_url):
    from django_q.models import OrmQ, Success
    from django_q.tasks import async_task

    character = asset_with_file(owner=member, kind="image", path=make_png(tmp_path / "c.png"))
    motion = asset_with_file(
        owner=member, kind="video", path=make_mp4(tmp_path / "m.mp4", seconds=1.0, fps=8)
    )
    # The test process itself is configured with the ORM broker, so job_submit's own enqueue
    # lands in the database queue, which a Redis cluster never reads: it stays there, and the
    # only way the job can run is the copy put on Redis below.
    job = services.job_submit(
        owner=member,
        idempotency_key="redis-broker-1",
        request=services.RenderRequest(character=character, motion=motion),
    )
    orm_queued = OrmQ.objects.count()
    assert orm_queued == 1
    broker = _redis_broker(redis_url)
    async_task("viggle_web.renders.tasks.job_send", job.pk, broker=broker)
    assert broker.queue_size() == 1

    cluster = QCluster("redis", REDIS_URL=redis_url).start()
    try:
        wait_until(
            lambda: RenderJob.objects.get(pk=job.pk).status in RenderJob.FINAL,
            timeout=120,
            message="the render did not finish through the Redis cluster in 120 s",
        )
        # A completed render enqueues follow-up work (its result is published to the gallery):
        # the cluster takes that from Redis too before it stops.
        wait_until(
            lambda: Result.objects.filter(job=job).exists() and broker.queue_size() == 0,
            timeout=60,
            message="the follow-up tasks were not taken from Redis in 60 s",
        )
    finally:
        cluster.stop()
    job.refresh_from_db()
    assert job.status == RenderJob.Status.COMPLETE, (job.status, job.error_message)
    assert job.output and job.output_size > 0
    assert len(viggle_sim.creates()) == 1
    # The cluster worked from Redis: it ran the send (its poller followed the job), and never
    # touched the database queue.
    done = set(Success.objects.values_list("func", flat=True))
    assert "viggle_web.renders.tasks.job_send" in done
    assert job.poll_count > 0
    assert OrmQ.objects.count() == orm_queued
    assert broker.queue_size() == 0
