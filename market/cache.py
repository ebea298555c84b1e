"""The caches every bot in a process shares: a symbol's bars are fetched once per minute and each
indicator is computed once per bar, whatever the number of bots asking.

Every entry is keyed by the feed's identity (kind, data URL, data feed, whose keys), never by a name
two users share: one account's feed can never decide another account's trades.
"""

from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime

import pandas as pd

from brokers.base import BrokerError, BrokerUnavailable
from engine.indicators import REGISTRY, Params, Series
from engine.signals import Computer, Signal, evaluate, signal_at
from market.base import MarketData
from tradebot.errors import Conflict
from tradebot.health import record_market_data


class BoundedCache:
    """A small LRU map: enough for every symbol and indicator in play, bounded in memory."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def get_or_compute(self, key: Hashable, compute):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = compute()
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()


_bars = BoundedCache(4096)
_indicators = BoundedCache(16384)
_signals = BoundedCache(16384)
# Brokers' market clocks, a minute each (bots.connections.market_status_for).
clocks = BoundedCache(1024)


def clear_caches() -> None:
    for shared in (_bars, _indicators, _signals, clocks):
        shared.clear()


def recent_bars(market: MarketData, symbol: str, timeframe: str, *, now: datetime, limit: int) -> pd.DataFrame:
    # Closed bars only change when a bar closes, so one fetch per symbol per minute serves every bot.
    minute = now.replace(second=0, microsecond=0)

    def fetch() -> pd.DataFrame:
        try:
            bars = market.bars(symbol, timeframe, end=now, limit=limit)
        except Exception as exc:
            if _service_fault(exc):
                _record(market, symbol, error=f"{timeframe}: {exc}")
            raise
        _record(market, symbol)
        return bars

    return _bars.get_or_compute((market.identity, symbol, timeframe, minute, limit), fetch)


def _service_fault(exc: Exception) -> bool:
    """An outage or a data fault counts against the feed; a refusal of one account's keys or plan does not."""
    return isinstance(exc, BrokerUnavailable) or not isinstance(exc, (BrokerError, Conflict))


def report_feed_problem(market: MarketData, symbol: str, problem: str) -> None:
    """Bars that came but cannot be decided on (empty, out of order, stale...) are the feed's failure too."""
    _record(market, symbol, error=problem)


def _record(market: MarketData, symbol: str, *, error: str = "") -> None:
    if market.health_label is not None:
        record_market_data(market.health_label, symbol=symbol, error=error)


def shared_computer(market: MarketData, symbol: str, timeframe: str, bars: pd.DataFrame) -> Computer:
    last = bars.index[-1] if len(bars) else None

    def compute(name: str, params: Params) -> tuple[Series, pd.Series]:
        def run():
            indicator = REGISTRY[name]
            values = indicator.compute(bars, params)
            return values, indicator.vote(values, bars, params)

        return _indicators.get_or_compute((market.identity, symbol, timeframe, last, len(bars), name, params), run)

    return compute


def latest_signal(
    market: MarketData, symbol: str, timeframe: str, bars: pd.DataFrame, params: dict[str, Params], mode: str
) -> Signal:
    """The signal of the last closed bar, shared by every bot with this symbol and these indicators."""
    key = (market.identity, symbol, timeframe, bars.index[-1], len(bars), tuple(params.items()), mode)
    compute = shared_computer(market, symbol, timeframe, bars)
    return _signals.get_or_compute(key, lambda: signal_at(evaluate(bars, params, mode, compute), -1))
