"""`manage.py benchmark backtest`: the backtester's speed on a long one-minute history, and its memory.

Speed is reported for the whole run and for the bar loop alone; peak memory at a quarter, half and
all of the history, to show it grows linearly.

The bot: RSI(14, 30, 70) + MACD(12, 26, 9) + SMA(50), majority vote, stop-loss 2 %, take-profit 5 %,
10 % of capital a position, window 00:00-23:59 New York (every bar but the one closing at 23:59 is
decided on). The bars are the simulated market's, around the clock, so the run is reproducible.
"""

import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd

from engine.backtest import INDICATOR_SHARE, BacktestResult, run_backtest
from engine.config import BotConfig
from market.simulated import SimulatedMarket

SYMBOL = "BENCH"
END = datetime(2024, 7, 1, tzinfo=UTC)
CONFIG = {
    "name": "Benchmark",
    "capital": 10000,
    "symbols": [SYMBOL],
    "indicators": {
        "RSI": {"period": 14, "oversold": 30, "overbought": 70},
        "MACD": {"fast": 12, "slow": 26, "signal": 9},
        "SMA": {"period": 50},
    },
    "signal_mode": "majority",
    "risk_management": {"stop_loss": 0.02, "take_profit": 0.05, "max_position_size": 0.1},
    "timeframe": "1Min",
    "start_hour": 0,
    "start_minute": 0,
    "end_hour": 23,
    "end_minute": 59,
}
COSTS = {"capital": Decimal(10000), "slippage": Decimal("0.0005"), "commission": Decimal(0)}


def add_arguments(parser) -> None:
    parser.add_argument("--bars", type=int, default=1_000_000, help="one-minute bars to backtest (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the fastest is reported (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the simulated market's seed (default 1)")


def run(out, *, bars: int, repeat: int, seed: int, **_) -> None:
    write, config = out.write, BotConfig.model_validate(CONFIG)
    write(f"Bot: {config.signal_mode} vote of RSI(14,30,70) + MACD(12,26,9) + SMA(50), stop-loss 2 %, take-profit 5 %")
    history = SimulatedMarket(seed=seed).bars(SYMBOL, "1Min", end=END, limit=bars)
    span = f"{history.index[0]} to {history.index[-1]}"
    write(f"Bars: {len(history):,} one-minute bars of the simulated market (seed {seed}), {span}")

    timings = [_timed(history, config) for _ in range(max(1, repeat))]
    result, whole, indicators, cpu = min(timings, key=lambda timing: timing[1])
    loop = whole - indicators
    stats = result.stats
    write(f"Trades: {stats['trades']:,} closed ({len(result.trades):,} fills), exposure {stats['exposure_time_pct']} %")
    write(f"Whole run (indicators + loop): {whole:.2f} s, {len(history) / whole:,.0f} bars/s")
    write(f"  fastest of {len(timings)} runs by the wall clock; that run used {cpu:.2f} s of CPU")
    write(f"  indicators and set-up: {indicators:.2f} s")
    write(f"  loop and results:      {loop:.2f} s, {len(history) / loop:,.0f} bars/s")

    write("Peak memory of run_backtest (tracemalloc; the input bars not counted):")
    for share in (4, 2, 1):
        part = history.iloc[: len(history) // share]
        peak = _peak_bytes(part, config)
        write(f"  {len(part):>9,} bars: {peak / 2**20:7.1f} MiB, {peak / len(part):6.0f} bytes a bar")


def _timed(bars: pd.DataFrame, config: BotConfig) -> tuple[BacktestResult, float, float, float]:
    """(result, wall seconds, wall seconds until the indicators were done, CPU seconds)."""
    marks = {}

    def progress(fraction: float) -> None:
        if fraction >= INDICATOR_SHARE:
            marks.setdefault("indicators", time.perf_counter())

    started, cpu_started = time.perf_counter(), time.process_time()
    result = run_backtest({SYMBOL: bars}, config, timeframe="1Min", progress=progress, **COSTS)
    finished, cpu = time.perf_counter(), time.process_time() - cpu_started
    return result, finished - started, marks["indicators"] - started, cpu


def _peak_bytes(bars: pd.DataFrame, config: BotConfig) -> int:
    tracemalloc.start()
    try:
        run_backtest({SYMBOL: bars}, config, timeframe="1Min", **COSTS)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
