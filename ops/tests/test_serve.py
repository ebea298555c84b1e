"""`manage.py serve` on embedded defaults: web, worker and beat in one process, as `make run` starts it."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings

from engine.config import EXAMPLE_CONFIG

WAIT_SECONDS = 60
# Migrating a fresh database runs every app's migrations (allauth's among them): slow on a busy machine.
MIGRATE_SECONDS = 180
ALL_DAY = {"start_hour": 0, "start_minute": 0, "end_hour": 23, "end_minute": 59}
BACKTEST = {"config": {**EXAMPLE_CONFIG, **ALL_DAY, "symbols": ["AAPL"]}, "start": "2024-03-04", "end": "2024-03-04"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_health(port: int) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except OSError:
        return None  # not listening yet


def api(port: int, token: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_serve_runs_web_worker_and_beat_in_one_process_and_stops_cleanly(tmp_path):
    db = tmp_path / "db.sqlite3"
    # Embedded defaults whatever suite this runs in; tasks go through the worker, not eagerly.
    env = os.environ | {"DATABASE_URL": f"sqlite:///{db}", "REDIS_URL": "", "CELERY_TASK_ALWAYS_EAGER": "0"}
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True, timeout=MIGRATE_SECONDS)
    subprocess.run([*manage, "ensure_admin"], env=env, check=True, timeout=WAIT_SECONDS, capture_output=True)
    token = subprocess.run(
        [*manage, "create_api_token", "admin"],
        env=env,
        check=True,
        timeout=WAIT_SECONDS,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*manage, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        # Healthy means the heartbeat beat sent on start went through the in-process broker and worker.
        deadline = time.monotonic() + WAIT_SECONDS
        while (result := get_health(port)) is None or result[0] != 200:
            assert server.poll() is None, f"serve died:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not healthy within {WAIT_SECONDS} s: {result}\n{log.read_text()}"
            time.sleep(0.3)
        assert result[1]["checks"]["beat"]["ok"]
        # A backtest runs on the backtests worker of its own.
        backtest = api(port, token, "/api/backtests", BACKTEST)
        deadline = time.monotonic() + WAIT_SECONDS
        while (backtest := api(port, token, f"/api/backtests/{backtest['id']}"))["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, f"the backtest did not finish: {backtest}\n{log.read_text()}"
            time.sleep(0.3)
        assert backtest["status"] == "done", backtest

        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    with sqlite3.connect(db) as conn:  # beat ran on the database scheduler
        tasks = {name for (name,) in conn.execute("SELECT task FROM django_celery_beat_periodictask")}
    assert "tradebot.tasks.beat_heartbeat" in tasks
