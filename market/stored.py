"""StoredBars: the MarketData protocol over bars imported into the database (the Bar model)."""

from datetime import datetime
from decimal import Decimal

import pandas as pd

from engine.market_time import TIMEFRAMES, as_utc
from market.bar_times import bar_close, check_timeframe, check_window, latest_closed_open
from market.base import BAR_COLUMNS, empty_bars
from market.models import Bar


class StoredBars:
    name = "stored"
    identity = ("stored",)
    health_label = None

    def bars(
        self, symbol: str, timeframe: str, *, end: datetime, start: datetime | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        check_timeframe(timeframe)
        check_window(start, limit)
        closed = Bar.objects.filter(
            symbol=symbol.strip().upper(), timeframe=timeframe, time__lte=latest_closed_open(timeframe, end)
        )
        if start is not None:
            closed = closed.filter(time__gte=as_utc(start, "start"))
        fields = ["time", *BAR_COLUMNS]
        if limit is None:
            rows = list(closed.order_by("time").values_list(*fields))
        else:
            rows = list(closed.order_by("-time").values_list(*fields)[:limit])[::-1]
        if not rows:
            return empty_bars()
        times, *columns = zip(*rows, strict=True)
        index = pd.DatetimeIndex(times, name="time").tz_convert("UTC").as_unit("s")
        floats = {name: [float(value) for value in values] for name, values in zip(BAR_COLUMNS, columns, strict=True)}
        return pd.DataFrame(floats, index=index)

    def latest_price(self, symbol: str, *, at: datetime) -> Decimal:
        """The close of the most recently closed stored bar, whatever its timeframe."""
        closes = []
        for timeframe in TIMEFRAMES:
            bar = (
                Bar.objects.filter(
                    symbol=symbol.strip().upper(), timeframe=timeframe, time__lte=latest_closed_open(timeframe, at)
                )
                .order_by("-time")
                .values_list("time", "close")
                .first()
            )
            if bar is not None:
                closes.append((bar_close(timeframe, bar[0]), bar[1]))
        if not closes:
            raise LookupError(f"no stored bars for {symbol} closed by {as_utc(at).isoformat()}")
        return max(closes, key=lambda close: close[0])[1]


def has_bars(symbol: str, timeframe: str) -> bool:
    """Whether bars were imported for this symbol and timeframe (they then replace the live feed's)."""
    return Bar.objects.filter(symbol=symbol.strip().upper(), timeframe=timeframe).exists()
