"""`manage.py benchmark ticks`: one minute's ticks of many bots on the simulated market and broker.

Runs in a throwaway copy of the configured database (an SQLite file, or PostgreSQL with DATABASE_URL),
with worker processes ticking in parallel the way a Celery worker's pool does. Bots draw their
symbols from a shared pool, as real bots do, so each process computes a symbol's bars and indicators
once per bar whatever the number of bots asking.
"""

import multiprocessing
import statistics
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connections

from bots import services
from bots.ticks import bot_tick
from trades.models import Trade

# A fixed moment in a trading session (10:00 in New York): the simulated market is deterministic, so
# every run ticks on the same bars and places the same orders, whenever it is run.
SESSION_MINUTE = datetime(2024, 3, 5, 15, 0, 1, tzinfo=UTC)

CONFIG = {
    "capital": 10000,
    "trading_frequency": 60,
    "indicators": {
        "RSI": {"period": 14, "oversold": 30, "overbought": 70},
        "MACD": {"fast": 12, "slow": 26, "signal": 9},
        "SMA": {"period": 50},
    },
    "risk_management": {"stop_loss": 0.02, "take_profit": 0.05, "max_position_size": 0.1},
    "signal_mode": "majority",
    "timeframe": "1Min",
    "start_hour": 0,
    "start_minute": 0,
    "end_hour": 23,
    "end_minute": 59,
}


def add_arguments(parser) -> None:
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--symbols", type=int, default=3, help="symbols per bot")
    parser.add_argument("--pool", type=int, default=50, help="distinct symbols the bots draw from")
    parser.add_argument("--workers", type=int, default=2, help="processes ticking in parallel")
    parser.add_argument("--minutes", type=int, default=2, help="consecutive one-minute schedules")


def run(out, *, bots: int, symbols: int, pool: int, workers: int, minutes: int, **_) -> None:
    with throwaway_database() as vendor:
        ids = create_bots(bots, symbols, pool)
        out.write(
            f"{bots} bots x {symbols} symbols (pool of {pool}), RSI + MACD + SMA on 1Min bars, "
            f"{workers} worker processes, {vendor}"
        )
        start = SESSION_MINUTE
        for minute in range(minutes):
            now = start + timedelta(minutes=minute)
            wall, timings = tick_all(ids, now, workers)
            ms = sorted(t for t, _, _ in timings)
            cpu = sorted(c for _, c, _ in timings)
            outcomes = [o for _, _, o in timings]
            out.write(
                f"minute {minute + 1}: {len(ms)} ticks in {wall:.2f} s = {len(ms) / wall:.0f} ticks/s; "
                f"per tick p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, max {ms[-1]:.1f} ms; "
                f"CPU per tick p50 {percentile(cpu, 50):.1f} ms, mean {statistics.fmean(cpu):.1f} ms; "
                f"{outcomes.count('traded')} traded, {outcomes.count('failed')} failed"
            )
        out.write(f"orders placed: {Trade.objects.count()}")


@contextmanager
def throwaway_database():
    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    with tempfile.TemporaryDirectory() as folder:
        if connection.vendor == "sqlite":
            # A file, not memory: the worker processes must share it, as they would in production.
            connection.settings_dict["TEST"]["NAME"] = str(Path(folder) / "benchmark.sqlite3")
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            yield f"{connection.vendor} ({connection.settings_dict['NAME']})"
        finally:
            connection.creation.destroy_test_db(original, verbosity=0)


def create_bots(count: int, per_bot: int, pool: int) -> list[int]:
    owner = get_user_model().objects.create_user("benchmark")
    account = services.default_broker_account(owner)
    ids = []
    for index in range(count):
        chosen = [f"S{(index * per_bot + j) % pool:03d}" for j in range(per_bot)]
        config = services.parse_config(dict(CONFIG, name=f"bench {index}", symbols=chosen))
        bot = services.bot_create(owner=owner, config=config, broker_account=account)
        ids.append(services.bot_start(bot=bot).pk)
    return ids


def tick_all(ids: list[int], now, workers: int) -> tuple[float, list[tuple[float, float, str]]]:
    connections.close_all()  # each forked process opens its own connection
    chunks = [ids[i::workers] for i in range(workers)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as processes:
        results = processes.starmap(_tick_chunk, [(chunk, now) for chunk in chunks])
    wall = time.perf_counter() - started
    return wall, [timing for chunk in results for timing in chunk]


def _tick_chunk(ids: list[int], now) -> list[tuple[float, float, str]]:
    """Each tick's wall and CPU milliseconds: CPU time tells the code's cost on a machine busy with
    other work, where wall time mostly tells the machine's load."""
    timings = []
    for bot_id in ids:
        began, began_cpu = time.perf_counter(), time.process_time()
        report = bot_tick(bot_id=bot_id, now=now)
        timings.append(((time.perf_counter() - began) * 1000, (time.process_time() - began_cpu) * 1000, report.outcome))
    connections.close_all()
    return timings


def percentile(sorted_values: list[float], pct: int) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[pct - 1]
