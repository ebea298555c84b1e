"""`manage.py benchmark simulated`: how fast the simulated market makes bars, in bulk and the recent
ones a tick asks for."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from engine.market_time import TIMEFRAMES
from market.simulated import SimulatedMarket

END = datetime(2024, 7, 3, 15, 0, tzinfo=UTC)


def _seconds(work: Callable[[], object], repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) / repeat


def add_arguments(parser) -> None:
    parser.add_argument("--bars", type=int, default=1_000_000, help="one-minute bars made in bulk (default 1,000,000)")


def run(out, *, bars: int, **_) -> None:
    benchmark(lambda line: out.write(line), bulk_bars=bars)


def benchmark(report: Callable[[str], None], bulk_bars: int) -> dict[str, float]:
    market = SimulatedMarket(seed=20240703)
    market.bars("WARMUP", "1Min", end=END, limit=1)  # time-zone tables and first-call costs
    results = {}
    bulk = _seconds(lambda: market.bars("BULK", "1Min", end=END, limit=bulk_bars))
    results["bulk_1min_bars_per_second"] = bulk_bars / bulk
    report(f"{bulk_bars:,} one-minute bars in {bulk:.2f} s: {bulk_bars / bulk:,.0f} bars/s")
    for number, timeframe in enumerate(TIMEFRAMES):
        symbol = f"COLD{number}"  # a symbol never asked for: nothing memoised yet
        recent = partial(market.bars, symbol, timeframe, end=END, limit=200)
        cold = _seconds(recent)
        warm = _seconds(recent, repeat=50)
        results[f"recent_200_{timeframe}_cold_ms"] = cold * 1000
        results[f"recent_200_{timeframe}_warm_ms"] = warm * 1000
        report(f"200 recent {timeframe} bars: {cold * 1000:.2f} ms cold, {warm * 1000:.3f} ms memoised")
    price = _seconds(lambda: market.latest_price("PRICE", at=END), repeat=50)
    results["latest_price_ms"] = price * 1000
    report(f"latest_price: {price * 1000:.3f} ms")
    return results
