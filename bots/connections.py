"""Which market data feed, broker and market clock a broker account uses, and the caches bots share.

Many bots trade the same symbols: within one process, a symbol's bars are fetched once per minute
and each indicator is computed once per bar, whatever the number of bots asking. Every cache is keyed
by the feed's identity (kind, data URL, data feed, whose keys), never by a name two users share: one
account's feed can never decide another account's trades.
"""

from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime
from functools import cache

import pandas as pd
from django.conf import settings

from engine.indicators import REGISTRY, Params, Series
from engine.signals import Computer, Signal, evaluate, signal_at
from bots.models import BrokerAccount
from tradebot.brokers.base import Broker, BrokerError, BrokerUnavailable
from tradebot.errors import Conflict
from tradebot.health import record_market_data
from tradebot.market.base import MarketData
from tradebot.market.calendar import MarketStatus, always_open_status, nyse_status
from tradebot.market.feeds import PreferStored


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
_clocks = BoundedCache(1024)


def clear_caches() -> None:
    for shared in (_bars, _indicators, _signals, _clocks):
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


def market_for(account: BrokerAccount) -> MarketData:
    """The feed a bot on this account decides on. A real broker's bots decide on its feed only: bars
    imported for a backtest must never become what a live order is sized on. The simulated market
    serves imported bars where they exist (demos on recorded data)."""
    feed = account_feed(account)
    return feed if account.kind == BrokerAccount.Kind.ALPACA else PreferStored(feed)


def account_feed(account: BrokerAccount) -> MarketData:
    """The account's own feed, without imported bars: Alpaca's data API or the simulated market."""
    if account.kind == BrokerAccount.Kind.ALPACA:
        from tradebot.market.alpaca_data import AlpacaMarketData

        return AlpacaMarketData(account)
    return simulated_market()


@cache
def simulated_market() -> MarketData:
    from tradebot.market.simulated import SimulatedMarket

    return SimulatedMarket()


def broker_for(account: BrokerAccount, market: MarketData, *, now: datetime | None = None) -> Broker:
    """`now` pins the simulated broker's clock to the tick's moment, so replays fill where they decided."""
    if account.kind == BrokerAccount.Kind.ALPACA:
        from tradebot.brokers.alpaca import AlpacaBroker

        return AlpacaBroker(account)
    from tradebot.brokers.sim import SimBroker

    if now is None:
        return SimBroker(account, market=market)
    return SimBroker(account, market=market, clock=lambda: now)


def bar_age_clock(now: datetime) -> str:
    """Whose hours age a real broker's bars: the NYSE's while its calendar holds a session, else the
    wall clock (the broker's clock says open in a session the calendar does not know)."""
    return "nyse" if nyse_status(now).is_open else "always_open"


def market_status_for(account: BrokerAccount, now: datetime) -> MarketStatus:
    """Alpaca's clock for Alpaca accounts; the NYSE calendar (or always open, for demos) otherwise."""
    if account.kind == BrokerAccount.Kind.ALPACA:
        from tradebot.brokers.alpaca import AlpacaBroker

        minute = now.replace(second=0, microsecond=0)
        clock = _clocks.get_or_compute((account.pk, account.trading_url, minute), lambda: AlpacaBroker(account).clock())
        return MarketStatus(
            is_open=clock.is_open, next_open=clock.next_open, next_close=clock.next_close, source="alpaca", timestamp=now
        )
    if settings.TRADEBOT_SIM_ALWAYS_OPEN:
        return always_open_status(now)
    return nyse_status(now)
