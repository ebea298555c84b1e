"""Whether a feed's bars may be decided on: the checks every live decision passes first.

A decision on bad bars sizes a real order on a price that no longer exists or never did: a feed that
answered nothing, answered out of order or twice for one bar, answered nonsense (no price, a high
under the low), or stopped (recorded history served as if live). Bars age only while the market is
open: the last bar of Friday's session is fresh at Monday's open, a daily bar through the next session.
"""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from engine.market_time import DAILY, EXCHANGE_TZ, TIMEFRAMES
from market.bar_times import bar_close
from market.calendar import open_seconds_between

# How many bar lengths of open market may pass after a bar's close before it is too old to trade on.
MAX_AGE_IN_BARS = 2
# A daily bar's length in open-market time: one regular NYSE session.
NYSE_SESSION = timedelta(hours=6, minutes=30)


def bars_problem(bars: pd.DataFrame) -> str | None:
    """None when the bars are well formed, else what is wrong with them, in words."""
    if bars.empty:
        return "no bars from the market data feed"
    if bars.index.has_duplicates:
        return "the feed answered twice for one bar"
    if not bars.index.is_monotonic_increasing:
        return "the feed's bars are out of order"
    prices = bars[["open", "high", "low", "close"]].to_numpy(dtype=float)
    if not np.isfinite(prices).all() or (prices <= 0).any():
        return "the feed's bars hold a missing or non-positive price"
    if (bars["high"] < bars["low"]).any() or (bars["volume"] < 0).any():
        return "the feed's bars are inconsistent (a high under the low, or a negative volume)"
    return None


def bar_length(timeframe: str, *, source: str) -> timedelta:
    if timeframe == DAILY and source == "nyse":
        return NYSE_SESSION
    return TIMEFRAMES[timeframe]


def stale_reason(last_open: datetime, timeframe: str, now: datetime, *, source: str) -> str | None:
    """None when the bar that opened at `last_open` may still be decided on at `now`, else why not."""
    closed = bar_close(timeframe, last_open)
    age = open_seconds_between(closed, now, source=source)
    allowed = bar_length(timeframe, source=source) * MAX_AGE_IN_BARS
    if age <= allowed.total_seconds():
        return None
    return (
        f"stale bars: the last {timeframe} bar closed {closed.astimezone(EXCHANGE_TZ):%Y-%m-%d %H:%M %Z}, "
        f"{age / 60:.0f} min of open market ago (at most {allowed.total_seconds() / 60:.0f})"
    )
