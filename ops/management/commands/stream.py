"""The stream service's process (the Procfile's and docker-compose's `stream`): live prices, fills and
bar-close ticks from the market data and trade_updates streams (bots.stream). `--check` is its health
check: it fails when the running service's last report is older than the health limit."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from bots.stream import StreamService
from tradebot.health import check_stream


class Command(BaseCommand):
    help = "Run the stream service (market data and trade_updates); --check: is it reporting?"

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="exit 1 unless the service reported recently")

    def handle(self, *, check: bool, **options):
        if check:
            state = check_stream()
            if not state["ok"] or "connections" not in state:
                raise CommandError(state.get("error") or state.get("state") or "not reporting")
            self.stdout.write(f"stream ok: reported {state['reported_seconds_ago']} s ago")
            return
        stopped = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        with StreamService():
            self.stdout.write("Stream service running; Ctrl-C stops it.")
            stopped.wait()
