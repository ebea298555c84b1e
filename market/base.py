"""The one protocol every market data feed speaks (the timeframes are engine.market_time's)."""

from collections.abc import Hashable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import pandas as pd

BAR_COLUMNS = ["open", "high", "low", "close", "volume"]


def empty_bars() -> pd.DataFrame:
    return pd.DataFrame(columns=BAR_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="time"), dtype=float)


class MarketData(Protocol):
    """Bars come as a DataFrame indexed by bar open time (UTC, ascending) with float columns
    open, high, low, close, volume. Only closed bars: a bar is returned once its end <= `end`."""

    name: str
    # Who sees the same bars: caches of bars, indicators and signals are keyed by this, so two feeds
    # that may answer differently (another URL, data feed or subscription) never share an entry.
    identity: Hashable
    # The name under which the feed's fetches count in /health; None for a feed that is one
    # account's own (a custom endpoint), whose failures are that account's, not the service's.
    health_label: str | None

    def bars(
        self, symbol: str, timeframe: str, *, end: datetime, start: datetime | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Closed bars ending at or before `end`; from `start` on, and/or the last `limit` of them."""

    def latest_price(self, symbol: str, *, at: datetime) -> Decimal:
        """The last traded price at `at`."""
