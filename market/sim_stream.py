"""The simulated market's trades, a pure function of (seed, symbol, minute) along the same path as its
bars: each minute trades exactly four times, at its 1-minute bar's open, low, high and close, in that
order and inside the minute. Low before high, always: the backtest's rule that a bar reaching both its
stop and its target takes the stop assumes the low came first, and the simulated stream keeps it true.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from market.simulated import SimulatedMarket

# Where in its minute each trade happens: open, low, high, close.
TRADE_OFFSETS = (timedelta(seconds=0), timedelta(seconds=15), timedelta(seconds=30), timedelta(seconds=45))
_MINUTE = timedelta(minutes=1)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class StreamTrade:
    """One trade as a stream delivers it, whatever the feed."""

    symbol: str
    price: Decimal
    size: int
    at: datetime


@dataclass(frozen=True)
class StreamBar:
    """A closed bar as a stream delivers it: `opened` is its open time (UTC)."""

    symbol: str
    timeframe: str
    opened: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


def minute_bar(seed: int, symbol: str, minute: datetime) -> StreamBar:
    """The simulated 1-minute bar opening at `minute` (a whole minute, UTC)."""
    bars = SimulatedMarket(seed).bars(symbol, "1Min", start=minute, end=minute + _MINUTE, limit=1)
    row = bars.iloc[0]
    return StreamBar(
        symbol=symbol,
        timeframe="1Min",
        opened=minute,
        open=_money(row.open),
        high=_money(row.high),
        low=_money(row.low),
        close=_money(row.close),
        volume=int(row.volume),
    )


def minute_trades(seed: int, symbol: str, minute: datetime) -> list[StreamTrade]:
    """The four trades of the minute opening at `minute`: its bar's open, low, high, close."""
    if minute.second or minute.microsecond:
        raise ValueError(f"not a whole minute: {minute.isoformat()}")
    bar = minute_bar(seed, symbol, minute)
    # The bar's volume, shared out whole: the close takes what rounding leaves.
    size = max(int(bar.volume) // 4, 1)
    sizes = (size, size, size, max(int(bar.volume) - 3 * size, 1))
    prices = (bar.open, bar.low, bar.high, bar.close)
    return [
        StreamTrade(symbol, price, shares, minute + offset)
        for price, shares, offset in zip(prices, sizes, TRADE_OFFSETS, strict=True)
    ]


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(_CENT)
