"""A real Celery worker in a subprocess, for the service tests (Redis broker, the test database)."""

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection


def test_database_url() -> str:
    """The URL of the database this test run uses (pytest-django's test_ copy), for other processes."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def running_worker(log: Path, **env: str):
    """Start `celery worker` on a queue of its own (no other worker takes its tasks); yields the queue."""
    queue = f"test-{uuid.uuid4().hex}"
    environment = (
        os.environ
        | {
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DATABASE_URL": test_database_url(),
            # The Alpaca stand-ins listen on the loopback (tests.alpaca_fixtures lists it in this process).
            "TRADEBOT_ALPACA_ALLOWED_HOSTS": "127.0.0.1",
        }
        | env
    )
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tradebot",
                "worker",
                "--pool",
                "solo",
                "--queues",
                queue,
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield worker, queue
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
