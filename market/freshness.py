"""Whether a feed's latest bar is recent enough to decide on.

A live decision on old bars sizes a real order on a price that no longer exists (a feed that stopped,
recorded history served as if live). Bars age only while the market is open: the last bar of
Friday's session is fresh at Monday's open, and a daily bar stays fresh through the next session.
"""

from datetime import datetime, timedelta

from engine.market_time import DAILY, EXCHANGE_TZ, TIMEFRAMES
from market.bar_times import bar_close
from market.calendar import open_seconds_between

# How many bar lengths of open market may pass after a bar's close before it is too old to trade on.
MAX_AGE_IN_BARS = 2
# A daily bar's length in open-market time: one regular NYSE session.
NYSE_SESSION = timedelta(hours=6, minutes=30)


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
        f"{age / 60:.0f} min of open market ago (at most {allowed.total_seconds() / 60:.0f}); not trading on it"
    )
