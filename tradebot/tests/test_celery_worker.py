import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from tradebot import health
from tradebot.celery import app
from tradebot.tasks import beat_heartbeat

WAIT_SECONDS = 60
WORKER = "celery -A tradebot worker --pool solo --without-mingle --without-gossip --loglevel INFO".split()


@pytest.mark.services
@pytest.mark.django_db
def test_a_real_worker_runs_the_heartbeat_through_redis_into_the_redis_cache(client, monkeypatch, tmp_path):
    # A queue of its own, so no other worker on this Redis takes the task.
    queue = f"test-{uuid.uuid4().hex}"
    log = tmp_path / "worker.log"
    cache.delete(health.HEARTBEAT_KEY)
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", *WORKER, "--queues", queue],
            cwd=settings.BASE_DIR,
            env=os.environ | {"CELERY_TASK_ALWAYS_EAGER": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        monkeypatch.setitem(app.conf, "task_always_eager", False)  # the test run is eager by default
        beat_heartbeat.apply_async(queue=queue, expires=WAIT_SECONDS)
        deadline = time.monotonic() + WAIT_SECONDS
        while (heartbeat := cache.get(health.HEARTBEAT_KEY)) is None:
            assert worker.poll() is None, f"the worker died:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no heartbeat within {WAIT_SECONDS} s:\n{log.read_text()}"
            time.sleep(0.2)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    assert timezone.now() - heartbeat < timedelta(seconds=WAIT_SECONDS)
    assert "beat_heartbeat" in log.read_text()
    response = client.get("/health")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["beat"]["ok"]
