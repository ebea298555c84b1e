"""The periodic services: marking positions to market, market status changes, the daily reset,
keeping the tick record bounded."""

import logging
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from bots import services
from bots.broker_stops import stops_settle
from bots.connections import broker_for, market_for
from bots.holds import holds_release_for_new_session
from bots.models import Bot, BrokerAccount, BrokerStop, TickLog
from bots.orders import orders_settle
from brokers.base import BrokerError
from engine.market_time import trading_day_start
from engine.risk import to_price
from market.calendar import current_session_open
from positions.models import Position
from positions.services import position_mark
from tradebot.errors import BrokerAccountUnusable
from tradebot.events import publish
from trades.models import Trade

logger = logging.getLogger(__name__)


def positions_mark_to_market() -> int:
    """Mark every open position at its feed's latest price; one price per account kind and symbol."""
    now = timezone.now()
    prices: dict[tuple[int, str], object] = {}
    marked = 0
    for position in Position.objects.filter(is_open=True, bot__isnull=False).select_related("bot__broker_account"):
        account = position.bot.broker_account
        key = (account.pk, position.symbol)
        if key not in prices:
            try:
                prices[key] = to_price(market_for(account).latest_price(position.symbol, at=now))
            except Exception:
                logger.exception("no price for %s on account %s", position.symbol, account.pk)
                prices[key] = None
            else:
                publish(
                    "price_update",
                    {"symbol": position.symbol, "price": prices[key], "timestamp": now},
                    user_id=position.owner_id,
                )
        if prices[key] is not None:
            position_mark(position=position, price=prices[key])
            marked += 1
    return marked


def pending_orders_settle(*, now: datetime | None = None, account_ids: list[int] | None = None) -> int:
    """Record fills of orders still pending at a broker for every bot (of these accounts), running or
    not: a tick settles its own, but a stopped bot, a closed window or a closed market runs no tick."""
    now = now or timezone.now()
    settled = 0
    pending = Trade.objects.pending()
    if account_ids is not None:
        pending = pending.filter(bot__broker_account_id__in=account_ids)
    bot_ids = pending.values_list("bot_id", flat=True).distinct()
    for bot in Bot.objects.filter(pk__in=bot_ids).select_related("broker_account"):
        account = bot.broker_account
        try:
            settled += len(orders_settle(bot=bot, broker=broker_for(account, market_for(account)), now=now))
        except (BrokerError, BrokerAccountUnusable) as exc:
            logger.warning("could not settle the pending orders of bot %s: %s", bot.pk, exc)
    return settled


def broker_stops_settle(*, account_ids: list[int] | None = None) -> int:
    """The repair path of stops resting at the broker, per Alpaca account (of these accounts) with open
    positions or stops: fills found there close their positions, ended stops are recorded, missing
    ones placed."""
    changed = 0
    resting = Q(bots__positions__broker_stops__status__in=BrokerStop.ACTIVE)
    wanted = Q(bots__risk_management__stop_at_broker=True, bots__positions__is_open=True)
    accounts = BrokerAccount.objects.filter(resting | wanted, kind=BrokerAccount.Kind.ALPACA).distinct()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
    for account in accounts:
        try:
            changed += stops_settle(account=account, broker=broker_for(account, market_for(account)))
        except (BrokerError, BrokerAccountUnusable) as exc:
            logger.warning("could not settle the resting stops of broker account %s: %s", account.pk, exc)
    return changed


def bots_daily_reset() -> list[Bot]:
    """At the session's open, resume the bots a daily rule paused before it and release the holds the
    broker's refusals placed (a new day, one more try). Safe to run any number of times."""
    now = timezone.now()
    opened = trading_day_start(now) if settings.TRADEBOT_SIM_ALWAYS_OPEN else current_session_open(now)
    if opened is None:
        return []
    holds_release_for_new_session(opened=opened)
    resumed = []
    for bot in Bot.objects.filter(status=Bot.Status.PAUSED, paused_until_reset=True, paused_at__lt=opened):
        if (bot := services.bot_resume_after_reset(bot=bot)) is not None:
            resumed.append(bot)
    return resumed


def tick_logs_prune() -> int:
    deleted = 0
    for bot_id in Bot.objects.values_list("pk", flat=True):
        # Ids grow with time and, unlike start times, never tie: everything at or below the cutoff goes.
        cutoff = (
            TickLog.objects.filter(bot_id=bot_id)
            .order_by("-id")
            .values_list("id", flat=True)[TickLog.KEEP_PER_BOT : TickLog.KEEP_PER_BOT + 1]
        )
        if cutoff:
            deleted += TickLog.objects.filter(bot_id=bot_id, id__lte=cutoff[0]).delete()[0]
    return deleted
