"""SimulatedMarket: deterministic bars for any symbol, the same whatever window is asked for.

Prices come from `sim_path`, a pure function of (seed, symbol, minute). Coarser bars aggregate
the one-minute bars (open first, high max, low min, close last, volume sum). Bars exist around
the clock; the market-status service decides when bots trade. Bars are computed in fixed blocks
of the timeframe's grid and the recent blocks are memoised: that is safe because a block never
changes, and it makes the live tick's repeated "last 200 bars" nearly free.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.market_time import DAILY, TIMEFRAMES, day_start, exchange_date
from market.bar_times import check_timeframe, check_window, epoch_seconds, first_daily_on_or_after, latest_closed_open
from market.base import BAR_COLUMNS
from market.sim_path import minute_bars, minute_prices, symbol_model

# Bars per block: from 2048 minutes to a month (46,000 minutes: the costliest block, ~10 ms cold).
_BLOCK_BARS = {"1Min": 2048, "5Min": 512, "15Min": 256, "1Hour": 128, "1Day": 32}
_CENT = Decimal("0.01")


def _minutes(timeframe: str) -> int:
    return TIMEFRAMES[timeframe] // timedelta(minutes=1)


def _bar_edges(timeframe: str, first: int, count: int) -> np.ndarray:
    """Open minutes of bars first..first+count-1 on the timeframe's grid, then the last one's close.
    A 1Day bar's grid index is its exchange date's ordinal."""
    if timeframe == DAILY:
        days = (date.fromordinal(ordinal) for ordinal in range(first, first + count + 1))
        return np.array([epoch_seconds(day_start(day)) // 60 for day in days], dtype=np.int64)
    return np.arange(first, first + count + 1, dtype=np.int64) * _minutes(timeframe)


@lru_cache(maxsize=256)  # at most ~25 MB, and enough for the recent bars of every symbol in play
def _block(seed: int, symbol: str, timeframe: str, block: int) -> np.ndarray:
    """Rows: open minute, open, high, low, close, volume, for one block of bars."""
    size = _BLOCK_BARS[timeframe]
    edges = _bar_edges(timeframe, block * size, size)
    minutes = minute_bars(symbol_model(seed, symbol), int(edges[0]), int(edges[-1] - edges[0]))
    starts = edges[:-1] - edges[0]
    rows = np.vstack(
        [
            edges[:-1],
            minutes.open[starts],
            np.maximum.reduceat(minutes.high, starts),
            np.minimum.reduceat(minutes.low, starts),
            minutes.close[edges[1:] - edges[0] - 1],
            np.add.reduceat(minutes.volume, starts),
        ]
    )
    rows.flags.writeable = False
    return rows


def _last_closed_index(timeframe: str, end: datetime) -> int:
    bound = latest_closed_open(timeframe, end)
    if timeframe == DAILY:
        return exchange_date(bound).toordinal()
    return epoch_seconds(bound) // (60 * _minutes(timeframe))


def _first_index_from(timeframe: str, start: datetime) -> int:
    if timeframe == DAILY:
        return first_daily_on_or_after(start).toordinal()
    return -(-epoch_seconds(start) // (60 * _minutes(timeframe)))


def _frame(rows: np.ndarray) -> pd.DataFrame:
    index = pd.DatetimeIndex((rows[0].astype(np.int64) * 60).astype("datetime64[s]"), tz="UTC", name="time")
    return pd.DataFrame(dict(zip(BAR_COLUMNS, rows[1:], strict=True)), index=index)


class SimulatedMarket:
    """The MarketData protocol over a simulated market: deterministic per (seed, symbol)."""

    name = "simulated"
    health_label = "simulated"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.identity = ("simulated", seed)

    def bars(
        self, symbol: str, timeframe: str, *, end: datetime, start: datetime | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        check_timeframe(timeframe)
        check_window(start, limit)
        last = _last_closed_index(timeframe, end)
        first = _first_index_from(timeframe, start) if start is not None else last - limit + 1
        if limit is not None:
            first = max(first, last - limit + 1)
        if first > last:
            return _frame(np.empty((len(BAR_COLUMNS) + 1, 0)))
        size = _BLOCK_BARS[timeframe]
        blocks = range(first // size, last // size + 1)
        rows = np.concatenate([_block(self.seed, _clean(symbol), timeframe, b) for b in blocks], axis=1)
        offset = blocks.start * size
        return _frame(rows[:, first - offset : last - offset + 1])

    def latest_price(self, symbol: str, *, at: datetime) -> Decimal:
        """The path's price at the start of `at`'s minute: on a bar boundary, the closing bar's close."""
        minute = epoch_seconds(at) // 60
        price = minute_prices(symbol_model(self.seed, _clean(symbol)), minute, minute)[0]
        return Decimal(repr(float(price))).quantize(_CENT)


def _clean(symbol: str) -> str:
    cleaned = symbol.strip().upper()
    if not cleaned:
        raise ValueError("symbol must not be empty")
    return cleaned
