"""Run the whole system: daphne (HTTP + WebSocket), Celery workers (one for backtests), beat and the
stream service.

On embedded defaults (no REDIS_URL) all four run in this one process, because the memory://
broker and the in-memory channel layer and cache exist only inside one process: daphne in the main
thread (it owns the signal handlers), the others in threads. With REDIS_URL set they run as the
Procfile's separate processes, started by honcho.
"""

import asyncio
import os
import sys
import tempfile
import threading
from pathlib import Path

from asgiref.sync import sync_to_async
from celery import Celery
from celery.beat import EmbeddedService
from celery.worker import WorkController
from daphne.access import AccessLogGenerator
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bots.stream import StreamService
from tradebot.asgi import application
from tradebot.celery import app

HOST = "127.0.0.1"  # a development server: this machine only, as the Procfile's web
STOP_TIMEOUT_SECONDS = 15
EMBEDDED = {"pool_cls": "threads", "without_heartbeat": True, "without_mingle": True, "without_gossip": True}


def backtest_app() -> Celery:
    """A second app on the same configuration and broker, to consume the backtests queue alone."""
    second = Celery("tradebot")
    second.config_from_object("django.conf:settings", namespace="CELERY")
    return second


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and beat (in one process on embedded defaults)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *, port: int, **options):
        if settings.REDIS_URL:
            return self.exec_procfile(port)
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("CELERY_TASK_ALWAYS_EAGER is on: tasks would run in the caller, not the worker.")

        # Threads pools: prefork would start processes that cannot see the memory broker. Backtests get
        # a worker of their own, so that ticks never wait behind one; it is another app instance, as a
        # worker's queue selection is its app's (both reach the same in-process broker).
        workers = [
            WorkController(app=app, queues=[app.conf.task_default_queue], concurrency=4, **EMBEDDED),
            WorkController(app=backtest_app(), queues=[settings.BACKTEST_QUEUE], concurrency=1, **EMBEDDED),
        ]
        worker_threads = [
            threading.Thread(target=worker.start, name=f"celery-worker-{n}", daemon=True)
            for n, worker in enumerate(workers)
        ]
        # Embedded beat defaults to the file-based scheduler; ours keeps the schedule in the database.
        beat = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
        for thread in worker_threads:
            thread.start()
        beat.start()
        stream = StreamService(run_in=on_daphnes_loop).start()

        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=HOST, port=port),
            action_logger=AccessLogGenerator(sys.stdout),
        )
        self.stdout.write(f"Tradebot on http://{HOST}:{port}/ (worker and beat in this process); Ctrl-C stops it.")
        try:
            server.run()  # until SIGINT or SIGTERM
        finally:
            stream.stop()
            beat.stop()
            for worker, thread in zip(workers, worker_threads, strict=True):
                worker.stop()
                thread.join(STOP_TIMEOUT_SECONDS)
        if not server.listening_addresses:
            raise CommandError(f"could not listen on {HOST}:{port}")

    def exec_procfile(self, port: int) -> None:
        # The Procfile's commands (daphne, celery) come from this virtualenv.
        bin_dir = str(Path(sys.executable).parent)
        env = os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        # /metrics on web adds up what all three processes counted (tradebot.metrics): a fresh directory each run.
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="tradebot-metrics-"))
        os.chdir(settings.BASE_DIR)
        # Replaces this process: honcho stops all three on Ctrl-C.
        os.execve(sys.executable, [sys.executable, "-m", "honcho", "start", "--port", str(port)], env)


def on_daphnes_loop(work):
    """Run the stream's work where daphne's in-memory channel layer lives, so what it publishes reaches
    the open pages at once (a send from another loop waits for daphne's next wake-up)."""
    from twisted.internet import reactor

    coroutine = sync_to_async(work, thread_sensitive=False)()
    return asyncio.run_coroutine_threadsafe(coroutine, reactor._asyncioEventloop).result()
