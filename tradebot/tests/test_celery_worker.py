import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.celery_worker import running_worker
from tradebot import health
from tradebot.celery import app
from tradebot.tasks import beat_heartbeat

WAIT_SECONDS = 60


@pytest.mark.services
@pytest.mark.django_db
def test_a_real_worker_runs_the_heartbeat_through_redis_into_the_redis_cache(client, monkeypatch, tmp_path):
    log = tmp_path / "worker.log"
    cache.delete(health.HEARTBEAT_KEY)
    monkeypatch.setitem(app.conf, "task_always_eager", False)  # the test run is eager by default
    with running_worker(log) as (worker, queue):
        beat_heartbeat.apply_async(queue=queue, expires=WAIT_SECONDS)
        deadline = time.monotonic() + WAIT_SECONDS
        while (heartbeat := cache.get(health.HEARTBEAT_KEY)) is None:
            assert worker.poll() is None, f"the worker died:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no heartbeat within {WAIT_SECONDS} s:\n{log.read_text()}"
            time.sleep(0.2)

    assert timezone.now() - heartbeat < timedelta(seconds=WAIT_SECONDS)
    assert "beat_heartbeat" in log.read_text()
    response = client.get("/health")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["beat"]["ok"]
