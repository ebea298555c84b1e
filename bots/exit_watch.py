"""Exits that never sleep: every open position's stop-loss and take-profit, checked on each live trade
of its symbol whatever its bot's status or window (running, paused, stopped, error), whenever its
market is open. The stream hands every trade to `ExitWatch.trade_seen`; only closing a position ends
the watch.

A trigger sends its exit through the one order path (bots.orders) under a client order id per
position and trigger, so a trigger seen twice, or by two processes at once, sends one order. The
simulated broker fills the exit at the level the trade reached (engine.risk.exit_on_trade), as the
backtest does; Alpaca fills a market order at its market.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from bots.connections import account_feed, broker_for, market_status_for
from bots.holds import holds_open
from bots.models import Bot
from bots.orders import next_attempt_id, order_send
from brokers.base import BrokerError
from engine.market_time import DAILY, TIMEFRAMES, day_start, exchange_date
from engine.risk import Holding, exit_on_trade, to_price
from market.bar_times import epoch_seconds
from positions.models import Position
from tradebot.errors import Conflict
from trades.models import Trade

logger = logging.getLogger(__name__)

# How stale the watch list may get: a position opened since is watched from the next refresh on.
REFRESH_EVERY = timedelta(seconds=1)
# A failed exit is tried again on a later trade, but not on every one: a refusing broker is not hammered.
RETRY_AFTER = timedelta(seconds=5)


@dataclass(frozen=True)
class Watched:
    position_id: int
    bot_id: int
    holding: Holding


@dataclass(frozen=True)
class _LastTrade:
    price: Decimal
    at: datetime


class _FillAt:
    """The price source of the simulated broker's exit: the level the trigger reached."""

    def __init__(self, price: Decimal):
        self.price = price

    def latest_price(self, symbol: str, *, at: datetime) -> Decimal:
        return self.price


class ExitWatch:
    """One per process that receives trades. Not thread-safe: feed it from one thread."""

    def __init__(self):
        self._watched: dict[tuple, list[Watched]] = {}  # (feed identity, symbol) -> open positions
        self._loaded_at: datetime | None = None
        self._last: dict[tuple, _LastTrade] = {}
        self._failed_at: dict[tuple[int, str], datetime] = {}

    def refresh(self, now: datetime | None = None) -> int:
        """Reload the open positions that have a stop or a target; how many are watched."""
        watched: dict[tuple, list[Watched]] = {}
        feeds: dict[int, tuple] = {}
        positions = (
            Position.objects.filter(is_open=True, bot__isnull=False)
            .filter(Q(stop_loss_price__isnull=False) | Q(take_profit_price__isnull=False))
            .select_related("bot__broker_account")
        )
        for position in positions:
            account = position.bot.broker_account
            if account.pk not in feeds:
                try:
                    feeds[account.pk] = account_feed(account).identity
                except Exception as exc:  # keys unreadable, account unusable: nothing to watch it with
                    logger.warning("cannot watch the positions of broker account %s: %s", account.pk, exc)
                    feeds[account.pk] = None
            if feeds[account.pk] is None:
                continue
            holding = Holding(
                position.symbol,
                position.quantity,
                position.entry_price,
                _price(position.stop_loss_price),
                _price(position.take_profit_price),
            )
            watched.setdefault((feeds[account.pk], position.symbol), []).append(
                Watched(position.pk, position.bot_id, holding)
            )
        self._watched, self._loaded_at = watched, now or timezone.now()
        return sum(len(group) for group in watched.values())

    def watches(self, feed: tuple, symbol: str) -> bool:
        return bool(self._watched.get((feed, symbol)))

    def trade_seen(self, *, feed: tuple, symbol: str, price: Decimal, at: datetime) -> list[Trade]:
        """A trade at `price` on the feed whose identity is `feed`: the exits it triggers, as sent."""
        key = (feed, symbol)
        previous = self._last.get(key)
        if self._loaded_at is None or not timedelta(0) <= at - self._loaded_at < REFRESH_EVERY:
            self.refresh(at)
        exits = []
        for watched in self._watched.get(key, ()):
            if hit := exit_on_trade(watched.holding, price, gapped=_gapped(watched.holding, previous, at)):
                if trade := self._exit(watched, hit, price, at):
                    exits.append(trade)
        # Only once the trade is dealt with: a retry of it (the database was busy) still reads the trade
        # before it as the previous one, so an exit inside the minute still fills at its level.
        self._last[key] = _LastTrade(price, at)
        return exits

    def _exit(self, watched: Watched, hit: tuple[str, Decimal], price: Decimal, at: datetime) -> Trade | None:
        reason, level = hit
        trigger = "stop" if reason.startswith("stop") else "take"
        failed_at = self._failed_at.get((watched.position_id, trigger))
        if failed_at is not None and timedelta(0) <= at - failed_at < RETRY_AFTER:
            return None
        position = Position.objects.filter(pk=watched.position_id, is_open=True).select_related("bot").first()
        if position is None or position.bot is None:
            return None
        bot = Bot.objects.select_related("broker_account").get(pk=position.bot_id)
        account = bot.broker_account
        try:
            is_open = market_status_for(account, at).is_open
        except BrokerError as exc:  # this account's clock failed: the other positions are still checked
            logger.warning("%s of position %s waits: no market clock (%s)", reason, position.pk, exc)
            self._failed_at[(watched.position_id, trigger)] = at
            return None
        if not is_open:
            return None
        if hold := holds_open(bot).get((position.symbol, Trade.Type.SELL)):
            logger.warning("%s of position %s not sent: %s", reason, position.pk, hold.explanation)
            return None
        try:
            trade = order_send(
                bot=bot,
                broker=broker_for(account, _FillAt(level), now=at),
                symbol=position.symbol,
                side=Trade.Type.SELL,
                quantity=position.quantity,
                client_order_id=next_attempt_id(f"tb-{bot.pk}-{position.symbol}-sell-{trigger}-{position.pk}"),
                bar_time=_bar_open(bot.timeframe, at),
                reason=f"{reason} (watched live)",
                snapshot={"close": float(price), "price_source": "live trade"},
            )
        except Conflict:
            return None  # an order for the symbol is in flight (the tick's, a close by hand): it ends the position
        except BrokerError as exc:
            logger.warning("%s of position %s could not be sent: %s", reason, position.pk, exc)
            self._failed_at[(watched.position_id, trigger)] = at
            return None
        if trade is not None and trade.status in (Trade.Status.FAILED, Trade.Status.CANCELLED):
            self._failed_at[(watched.position_id, trigger)] = at
        return trade


def _price(level: Decimal | None) -> Decimal | None:
    return None if level is None else to_price(level)


def _gapped(holding: Holding, previous: _LastTrade | None, at: datetime) -> bool:
    """Whether the market jumped past the level rather than trading through it: the trade opens a new
    minute (its bar's open), or the price was already beyond a level on the trade before."""
    if previous is None or epoch_seconds(previous.at) // 60 != epoch_seconds(at) // 60:
        return True
    return exit_on_trade(holding, previous.price, gapped=True) is not None


def _bar_open(timeframe: str, at: datetime) -> datetime:
    """The open of the bot's bar the trade falls in: the bar the backtest records the exit on."""
    if timeframe == DAILY:
        return day_start(exchange_date(at))
    step = int(TIMEFRAMES[timeframe].total_seconds())
    return datetime.fromtimestamp(epoch_seconds(at) // step * step, tz=UTC)
