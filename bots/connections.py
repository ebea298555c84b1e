"""Which market data feed, broker and market clock a broker account uses.

alpaca-py takes over a second to import: only the processes that talk to Alpaca pay for it, so its
modules are imported where an Alpaca account is met.
"""

from datetime import datetime
from functools import cache

from django.conf import settings

from bots.models import BrokerAccount
from bots.sim_ledger import DatabaseLedger
from brokers.base import Broker
from brokers.sim import SimBroker
from market.base import MarketData
from market.cache import clocks
from market.calendar import MarketStatus, always_open_status, nyse_status
from market.feeds import PreferStored
from market.simulated import SimulatedMarket


def market_for(account: BrokerAccount) -> MarketData:
    """The feed a bot on this account decides on. A real broker's bots decide on its feed only: bars
    imported for a backtest must never become what a live order is sized on. The simulated market
    serves imported bars where they exist (demos on recorded data)."""
    feed = account_feed(account)
    return feed if account.kind == BrokerAccount.Kind.ALPACA else PreferStored(feed)


def account_feed(account: BrokerAccount) -> MarketData:
    """The account's own feed, without imported bars: Alpaca's data API or the simulated market."""
    if account.kind == BrokerAccount.Kind.ALPACA:
        from market.alpaca_data import AlpacaMarketData

        return AlpacaMarketData(account)
    return simulated_market()


@cache
def simulated_market() -> MarketData:
    return SimulatedMarket()


def broker_for(account: BrokerAccount, market: MarketData, *, now: datetime | None = None) -> Broker:
    """`now` pins the simulated broker's clock to the tick's moment, so replays fill where they decided."""
    if account.kind == BrokerAccount.Kind.ALPACA:
        from brokers.alpaca import AlpacaBroker

        return AlpacaBroker(account)
    pinned = {} if now is None else {"clock": lambda: now}
    return SimBroker(
        ledger=DatabaseLedger(account.pk),
        market=market,
        slippage=account.sim_slippage,
        commission=account.sim_commission,
        **pinned,
    )


def bar_age_clock(now: datetime) -> str:
    """Whose hours age a real broker's bars: the NYSE's while its calendar holds a session, else the
    wall clock (the broker's clock says open in a session the calendar does not know)."""
    return "nyse" if nyse_status(now).is_open else "always_open"


def market_status_for(account: BrokerAccount, now: datetime) -> MarketStatus:
    """Alpaca's clock for Alpaca accounts; the NYSE calendar (or always open, for demos) otherwise."""
    if account.kind == BrokerAccount.Kind.ALPACA:
        from brokers.alpaca import AlpacaBroker

        minute = now.replace(second=0, microsecond=0)
        clock = clocks.get_or_compute(
            (account.pk, account.trading_url, minute), lambda: AlpacaBroker(account).clock(), minute=minute
        )
        return MarketStatus(
            is_open=clock.is_open,
            next_open=clock.next_open,
            next_close=clock.next_close,
            source="alpaca",
            timestamp=now,
        )
    if settings.TRADEBOT_SIM_ALWAYS_OPEN:
        return always_open_status(now)
    return nyse_status(now)
