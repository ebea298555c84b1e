"""The caches every bot in a process shares: a symbol's bars are fetched once per minute and each
indicator is computed once per bar, whatever the number of bots asking.

Every entry is keyed by the feed's identity (kind, data URL, data feed, whose keys), never by a name
two users share: one account's feed can never decide another account's trades.
"""

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from brokers.base import BrokerError, BrokerUnavailable
from engine.indicators import REGISTRY, Params, Series
from engine.market_time import DAILY, TIMEFRAMES, trading_day_start
from engine.risk import to_price
from engine.signals import Computer, Signal, evaluate, signal_at
from market.base import MarketData
from tradebot import metrics
from tradebot.errors import Conflict
from tradebot.health import record_market_data


class MinuteCache:
    """Results shared by the ticks of the minutes in progress, bounded in memory.

    Entries belong to the minute whose ticks made them. Bars, indicators and signals are per closed
    bar, so once a later minute starts nothing asks for those of two minutes before: they are dropped
    (the previous minute stays, for ticks still finishing it). A bound on the bytes held caps a busy
    minute: the least recently used entries go first, to be computed again if asked for. So a worker's
    memory follows the bots it serves now, not every minute it has seen.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[datetime, int, object]] = OrderedDict()
        self._bytes = 0
        self._newest: datetime | None = None
        self._lock = threading.Lock()  # the embedded worker ticks in threads

    def get_or_compute(self, key: Hashable, compute: Callable[[], object], *, minute: datetime):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][2]
        value = compute()
        size = nbytes(value)
        with self._lock:
            if self._newest is None or minute > self._newest:
                self._newest = minute
                self._drop_before(minute - timedelta(minutes=1))
            if key not in self._items:
                self._items[key] = (minute, size, value)
                self._bytes += size
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._bytes -= self._items.popitem(last=False)[1][1]
        return value

    def _drop_before(self, cutoff: datetime) -> None:
        for key in [key for key, (minute, _, _) in self._items.items() if minute < cutoff]:
            self._bytes -= self._items.pop(key)[1]

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self._newest = None


def nbytes(value: object) -> int:
    """What a cached value holds, near enough: its arrays' bytes (a series' index is its bars')."""
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True).sum())
    if isinstance(value, pd.Series):
        return int(value.memory_usage(index=False))
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(nbytes(item) for item in value.values())
    if isinstance(value, (tuple, list)):
        return sys.getsizeof(value) + sum(nbytes(item) for item in value)
    return sys.getsizeof(value)


_MIB = 2**20
_bars = MinuteCache(64 * _MIB)
_indicators = MinuteCache(64 * _MIB)
_signals = MinuteCache(16 * _MIB)
# Brokers' market clocks, a minute each (bots.connections.market_status_for).
clocks = MinuteCache(_MIB)
# Today's first open per feed, symbol and timeframe: a price a day each, a few thousand at most.
_day_opens: OrderedDict[Hashable, Decimal] = OrderedDict()
_DAY_OPENS_KEPT = 4096


def clear_caches() -> None:
    for shared in (_bars, _indicators, _signals, clocks):
        shared.clear()
    _day_opens.clear()


def day_open_price(market: MarketData, symbol: str, timeframe: str, *, now: datetime) -> Decimal | None:
    """The open of the symbol's first bar of today (the New York date of the bar's close, as the
    backtest counts days): what today's change of a position held overnight is measured from
    (max_daily_loss). None until that bar has closed; then fetched once a day."""
    today = trading_day_start(now)
    key = (market.identity, symbol, timeframe, today)
    if key in _day_opens:
        return _day_opens[key]
    start = today if timeframe == DAILY else today - TIMEFRAMES[timeframe]
    bars = market.bars(symbol, timeframe, start=start, end=now)
    if bars.empty:
        return None
    price = to_price(bars["open"].iloc[0])
    _day_opens[key] = price
    while len(_day_opens) > _DAY_OPENS_KEPT:
        _day_opens.popitem(last=False)
    return price


def recent_bars(market: MarketData, symbol: str, timeframe: str, *, now: datetime, limit: int) -> pd.DataFrame:
    # Closed bars only change when a bar closes, so one fetch per symbol per minute serves every bot.
    minute = now.replace(second=0, microsecond=0)

    def fetch() -> pd.DataFrame:
        try:
            bars = market.bars(symbol, timeframe, end=now, limit=limit)
        except Exception as exc:
            metrics.MARKET_FETCHES.labels("error").inc()
            if _service_fault(exc):
                _record(market, symbol, error=f"{timeframe}: {exc}")
            raise
        metrics.MARKET_FETCHES.labels("ok").inc()
        _record(market, symbol)
        return bars

    return _bars.get_or_compute((market.identity, symbol, timeframe, minute, limit), fetch, minute=minute)


def _service_fault(exc: Exception) -> bool:
    """An outage or a data fault counts against the feed; a refusal of one account's keys or plan does not."""
    return isinstance(exc, BrokerUnavailable) or not isinstance(exc, (BrokerError, Conflict))


def report_feed_problem(market: MarketData, symbol: str, problem: str) -> None:
    """Bars that came but cannot be decided on (empty, out of order, stale...) are the feed's failure too."""
    _record(market, symbol, error=problem)


def _record(market: MarketData, symbol: str, *, error: str = "") -> None:
    if market.health_label is not None:
        record_market_data(market.health_label, symbol=symbol, error=error)


def shared_computer(
    market: MarketData, symbol: str, timeframe: str, bars: pd.DataFrame, *, minute: datetime
) -> Computer:
    last = bars.index[-1] if len(bars) else None

    def compute(name: str, params: Params) -> tuple[Series, pd.Series]:
        def run():
            indicator = REGISTRY[name]
            values = indicator.compute(bars, params)
            return values, indicator.vote(values, bars, params)

        key = (market.identity, symbol, timeframe, last, len(bars), name, params)
        return _indicators.get_or_compute(key, run, minute=minute)

    return compute


def latest_signal(
    market: MarketData,
    symbol: str,
    timeframe: str,
    bars: pd.DataFrame,
    params: dict[str, Params],
    mode: str,
    *,
    now: datetime,
) -> Signal:
    """The signal of the last closed bar, shared by every bot with this symbol and these indicators."""
    minute = now.replace(second=0, microsecond=0)
    key = (market.identity, symbol, timeframe, bars.index[-1], len(bars), tuple(params.items()), mode)
    compute = shared_computer(market, symbol, timeframe, bars, minute=minute)
    return _signals.get_or_compute(key, lambda: signal_at(evaluate(bars, params, mode, compute), -1), minute=minute)
