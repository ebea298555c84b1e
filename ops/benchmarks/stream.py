"""`manage.py benchmark stream`: trades one stream service handles a second, the CPU it spends, and the
time from a trade message to a stop order sent.

The service (bots.stream) runs as in production, with alpaca-py's StockDataStream reading the local
market data stand-in (tests/alpaca_stream_stub.py) and orders going to the REST stand-in
(tests/alpaca_stub.py), both in this process, for bots trading `--symbols` symbols; one symbol in ten
is held with a stop-loss, so the exit watcher checks real positions. Two runs: a burst (`--trades` as
fast as the stand-in sends them, one trade per symbol per frame, as Alpaca batches) gives the rate
and the CPU of the stream's threads per trade (the stand-ins' own CPU is not counted: they are
another machine in production); then a steady `--rate` in which a held symbol trades through its stop
every 0.2 s gives p50/p95 from a trade's timestamp to its handing over (reading loop) and to its stop
order's answer from the broker (exit watcher).
"""

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from bots import services
from bots.models import BrokerAccount
from bots.stream import StreamService
from ops.benchmarks.ticks import CONFIG, throwaway_database
from positions.models import Position

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
SYMBOLS_PER_BOT = 10


def add_arguments(parser) -> None:
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--trades", type=int, default=100_000, help="trades in the burst")
    parser.add_argument("--rate", type=int, default=5_000, help="trades a second in the steady run")
    parser.add_argument("--seconds", type=int, default=10, help="length of the steady run")


class TimedService(StreamService):
    """The service, noting when each trade was handed over and when a stop it triggered was sent (the
    trade's own timestamp is when the stand-in sent it)."""

    latencies: list[float]
    exit_latencies: list[float]

    def trade(self, feed, trade) -> None:
        super().trade(feed, trade)
        self.latencies.append(time.time() - trade.at.timestamp())

    def watch_exits(self, feed, trade):
        exits = super().watch_exits(feed, trade)
        if exits:
            self.exit_latencies.append(time.time() - trade.at.timestamp())
        return exits


def stream_cpu_seconds() -> float:
    """CPU (user + system) of this process's stream threads so far."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    total = 0
    for tid, name in names.items():
        if not name.startswith("stream"):
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS_PER_SECOND


def create_bots(symbols: list[str], rest) -> list[str]:
    """Bots trading `symbols`, ten each, the first of each held with a stop at 90; the held symbols."""
    owner = get_user_model().objects.create_user("benchmark")
    account = BrokerAccount(
        owner=owner, name="Alpaca", kind=BrokerAccount.Kind.ALPACA, base_url=rest.url, data_url=rest.url
    )
    account.set_credentials(rest.api_key, rest.secret_key)
    account.save()
    held = []
    for index in range(0, len(symbols), SYMBOLS_PER_BOT):
        config = services.parse_config(
            dict(CONFIG, name=f"bench {index}", symbols=symbols[index : index + SYMBOLS_PER_BOT])
        )
        bot = services.bot_start(bot=services.bot_create(owner=owner, config=config, broker_account=account))
        symbol = symbols[index]
        Position.objects.create(
            owner=owner,
            bot=bot,
            bot_name=bot.name,
            symbol=symbol,
            quantity=10,
            entry_price=Decimal("100"),
            current_price=Decimal("100"),
            stop_loss_price=Decimal("90"),
            opened_at=timezone.now(),
        )
        rest.add_position(symbol, 10, "100")
        rest.set_price(symbol, "89")
        held.append(symbol)
    return held


def moving_price(step: int) -> float:
    """Between 100 and 101, never the same twice in a row: every price is news to the positions."""
    return 100 + (step % 100) / 100


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def run(out, *, symbols: int, trades: int, rate: int, seconds: int, **_) -> None:
    from tests.alpaca_stream_stub import AlpacaStreamStub, trade
    from tests.alpaca_stub import AlpacaStub

    names = [f"S{index:03d}" for index in range(symbols)]
    with (
        throwaway_database() as vendor,
        AlpacaStreamStub() as stub,
        AlpacaStub() as rest,
        override_settings(
            ALPACA_DATA_STREAM_URL=stub.data_url("").rstrip("/"),
            ALPACA_TRADING_STREAM_URL=stub.trading_url,
            TRADEBOT_ALPACA_ALLOWED_HOSTS=["127.0.0.1"],
        ),
    ):
        now = timezone.now()
        rest.set_clock(is_open=True, next_open=now + timedelta(days=1), next_close=now + timedelta(hours=6))
        held = create_bots(names, rest)
        service = TimedService(reconcile_accounts=False)
        service.latencies, service.exit_latencies = [], []
        with service:
            stub.wait_for_subscription("trades", *names, timeout=30)
            while not all(stream.in_session for stream in service.market_streams.values()):
                time.sleep(0.01)
            out.write(f"{symbols} symbols on one StockDataStream, {len(held)} held with a stop, bots on {vendor}")

            frames = -(-trades // symbols)
            cpu, started = stream_cpu_seconds(), time.perf_counter()
            for number in range(frames):
                now, price = datetime.now(UTC), moving_price(number)
                stub.push(*(trade(name, now, price, 1) for name in names))
            while service.messages < frames * symbols or not service.exits_idle:
                time.sleep(0.01)
            wall, cpu = time.perf_counter() - started, stream_cpu_seconds() - cpu
            handled = frames * symbols
            out.write(
                f"burst: {handled} trades in {wall:.2f} s = {handled / wall:,.0f} trades/s; stream threads' CPU "
                f"{cpu:.2f} s = {handled / cpu:,.0f} trades per CPU-second ({cpu / wall:.0%} of a core)"
            )

            service.latencies.clear()
            per_frame = max(rate // 20, 1)  # 20 frames a second
            cpu, started = stream_cpu_seconds(), time.perf_counter()
            for step in range(seconds * 20):
                now = datetime.now(UTC)
                frame = [
                    trade(names[(step * per_frame + i) % symbols], now, moving_price(step), 1) for i in range(per_frame)
                ]
                if step % 4 == 0 and step // 4 < len(held):  # through a stop, five times a second
                    frame.append(trade(held[step // 4], now, 89, 1))
                stub.push(*frame)
                time.sleep(max(started + (step + 1) / 20 - time.perf_counter(), 0))
            time.sleep(1)
            wall, cpu = time.perf_counter() - started, stream_cpu_seconds() - cpu
            latencies = [value * 1000 for value in service.latencies]
            out.write(
                f"steady {per_frame * 20:,} trades/s for {seconds} s: {len(latencies)} handled, stream threads' CPU "
                f"{cpu / wall:.0%} of a core; trade -> handled p50 {percentile(latencies, 0.5):.1f} ms, "
                f"p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms"
            )
            exits = [value * 1000 for value in service.exit_latencies]
            sells = [order for order in rest.orders if order["side"] == "sell"]
            out.write(
                f"trade through a stop -> stop order sent and answered: {len(exits)} stops ({len(sells)} sells at the "
                f"broker), p50 {percentile(exits, 0.5):.1f} ms, p95 {percentile(exits, 0.95):.1f} ms, "
                f"max {max(exits):.1f} ms"
            )
