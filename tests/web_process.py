"""The web process (daphne) in a subprocess on the test database, for the service tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from tests.celery_worker import test_database_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_web(log: Path, *, timeout: float = 120, **env: str):
    """Start daphne on a free loopback port; yields its base URL once it answers."""
    port = free_port()
    environment = os.environ | {"DATABASE_URL": test_database_url()} | env
    with log.open("w") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tradebot.asgi:application"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert web.poll() is None, f"daphne died:\n{log.read_text()}"
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, f"daphne did not answer within {timeout} s:\n{log.read_text()}"
                time.sleep(0.2)
        yield url
    finally:
        web.terminate()
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()
