"""Bars imported from CSV take the place of a feed for the symbols and timeframes they cover: for
backtests, and for the simulated market. Never for a real broker's live decisions (bots.connections)."""

from datetime import datetime
from decimal import Decimal

import pandas as pd

from market.base import MarketData
from market.models import Bar
from market.stored import StoredBars, has_bars


class PreferStored:
    def __init__(self, live: MarketData):
        self.live = live
        self.stored = StoredBars()
        self.name = live.name
        self.identity = ("stored over", live.identity)
        self.health_label = live.health_label

    def _source(self, symbol: str, timeframe: str) -> MarketData:
        return self.stored if has_bars(symbol, timeframe) else self.live

    def bars(
        self, symbol: str, timeframe: str, *, end: datetime, start: datetime | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        return self._source(symbol, timeframe).bars(symbol, timeframe, end=end, start=start, limit=limit)

    def latest_price(self, symbol: str, *, at: datetime) -> Decimal:
        # Fills must agree with the bars the bot decided on: imported symbols price from their bars.
        source = self.stored if Bar.objects.filter(symbol=symbol).exists() else self.live
        return source.latest_price(symbol, at=at)
