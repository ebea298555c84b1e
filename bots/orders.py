"""Sending orders: write the pending trade, ask the broker, record its answer. The one path every
order takes, from a tick or from a person closing a position."""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit.models import AuditEntry
from accounts.audit.services import audit_record
from bots import notices
from bots.broker_stops import stop_clear_for_exit, stop_update_apply, stops_follow_trade
from bots.connections import broker_for, market_for
from bots.holds import hold_after_refusal
from bots.models import Bot, BrokerAccount, BrokerStop
from brokers.base import Broker, OrderRejected, OrderRequest, OrderResult
from positions.models import Position
from tradebot import metrics
from tradebot.errors import Conflict
from trades.models import Trade
from trades.services import trade_apply_result, trade_record_pending

logger = logging.getLogger(__name__)
log = structlog.get_logger(__name__)

# As long as a tick may hold its bot (bots.ticks.CLAIM_LEASE): an order the broker never received is
# still the same decision within it, and a stale one after, buy or sell.
UNSENT_ORDER_MAX_AGE = timedelta(minutes=2)


def order_send(
    *,
    bot: Bot,
    broker: Broker,
    symbol: str,
    side: str,
    quantity: int,
    client_order_id: str,
    bar_time: datetime | None,
    reason: str,
    snapshot: dict,
) -> Trade | None:
    """Place one order exactly once. None when this client order id was already recorded (the order
    belongs to an earlier or concurrent attempt). BrokerError propagates with the trade left pending
    for the next tick to repair.

    Conflict when the order does not fit the bot's book: another order for the symbol still pending, a
    buy while holding, a sell of more shares than the open position holds (a manual close racing a
    tick's stop-loss, or a tick that outlived its lease). The bot's row lock makes this check and the
    write-ahead record one step for every writer of the bot's orders.

    A sell first cancels the position's stop resting at the broker (bots.broker_stops), under the same
    lock: the broker holds the shares against it. When that stop had already filled, its trade is
    returned instead and no sell is sent (or only for the shares it left)."""
    try:
        with transaction.atomic():
            Bot.objects.select_for_update().filter(pk=bot.pk).values_list("pk", flat=True).first()
            if Trade.objects.filter(client_order_id=client_order_id).exists():
                return None
            if refusal := _order_refusal(bot=bot, symbol=symbol, side=side, quantity=quantity):
                raise Conflict(refusal)
            if side == Trade.Type.SELL and (stop_trade := stop_clear_for_exit(bot=bot, broker=broker, symbol=symbol)):
                # The broker's stop filled before it could be cancelled: that is this exit, in whole or part.
                left = Position.objects.filter(bot=bot, symbol=symbol, is_open=True).values_list("quantity", flat=True)
                if not left:
                    return stop_trade
                quantity = min(quantity, left[0])
            trade = trade_record_pending(
                bot=bot,
                symbol=symbol,
                side=side,
                quantity=quantity,
                client_order_id=client_order_id,
                timestamp=timezone.now(),
                bar_time=bar_time,
                reason=reason,
                snapshot=snapshot,
            )
    except IntegrityError:
        return None
    return _record(bot, broker, trade, _submit(bot, broker, trade))


def _order_refusal(*, bot: Bot, symbol: str, side: str, quantity: int) -> str | None:
    if bot.trades.pending().filter(symbol=symbol).exists():
        return f"an order for {symbol} is still pending"
    position = Position.objects.filter(bot=bot, symbol=symbol, is_open=True).first()
    if side == Trade.Type.BUY:
        return f"the bot already holds {symbol}" if position is not None else None
    if position is None:
        return f"the bot holds no {symbol} to sell"
    if quantity > position.quantity:
        return f"cannot sell {quantity} {symbol}: the bot holds {position.quantity}"
    return None


def orders_repair(*, bot: Bot, broker: Broker, now: datetime) -> list[Trade]:
    """Settle the bot's pending trades with the broker: an order it has is recorded as it stands; one it
    never received is sent now, under the same client order id (so it can never be placed twice) -- but
    only while its decision is fresh: later, the price and size it was decided on no longer hold, and
    it is cancelled (the tick decides again on the bar in front of it). Returns the trades as they now
    stand (some may still be pending at the broker)."""
    repaired = []
    for trade in _pending(bot):
        result = broker.get_order(trade.client_order_id)
        if result is None and now - trade.timestamp > UNSENT_ORDER_MAX_AGE:
            result = _too_old_to_send(trade, now)
        elif result is None:
            logger.warning("order %s never reached the broker: sending it now", trade.client_order_id)
            result = _submit(bot, broker, trade)
        repaired.append(_record(bot, broker, trade, result))
    return repaired


def orders_settle(*, bot: Bot, broker: Broker, now: datetime) -> list[Trade]:
    """Record what the broker did with the bot's pending orders, whatever the bot's status, window or
    the market hours (a close sent by hand must be recorded when it fills). Sends nothing: an order the
    broker never received is cancelled once too old to send, unless a tick of the bot is running (it
    may be sending it right now)."""
    settled = []
    ticking = bot.tick_claimed_until is not None and bot.tick_claimed_until > now
    for trade in _pending(bot):
        result = broker.get_order(trade.client_order_id)
        if result is None and not ticking and now - trade.timestamp > UNSENT_ORDER_MAX_AGE:
            result = _too_old_to_send(trade, now)
        if result is not None:
            settled.append(_record(bot, broker, trade, result))
    return settled


def order_update_apply(*, account_ids: list[int], result: OrderResult) -> Trade | None:
    """The broker's word on an order as its stream delivers it, recorded like the repair records it
    (applying it twice, or after the order's HTTP answer, changes nothing): to the pending trade with
    its client order id, or to the stop resting at the broker under it (a fill of the stop closes its
    position: its trade is returned). None for an order the books do not have pending on these
    accounts: settled already, or not Tradebot's."""
    stop = (
        BrokerStop.objects.filter(
            client_order_id=result.client_order_id,
            position__bot__broker_account_id__in=account_ids,
            status__in=BrokerStop.ACTIVE,
        )
        .select_related("position__bot__broker_account")
        .first()
    )
    if stop is not None:
        stop_update_apply(stop=stop, result=result, broker=_broker(stop.position.bot.broker_account))
        return Trade.objects.filter(client_order_id=stop.client_order_id).first()
    trade = (
        Trade.objects.pending()
        .filter(client_order_id=result.client_order_id, bot__broker_account_id__in=account_ids)
        .select_related("bot__broker_account")
        .first()
    )
    return None if trade is None else _record(trade.bot, _broker(trade.bot.broker_account), trade, result)


def _broker(account: BrokerAccount) -> Broker:
    return broker_for(account, market_for(account))


def _record(bot: Bot, broker: Broker, trade: Trade, result: OrderResult) -> Trade:
    """The broker's word on the order, in the books; a refusal holds that side of the symbol; the
    position's stop resting at the broker follows what filled."""
    trade = trade_apply_result(trade=trade, result=result)
    log.info(
        "order",
        bot_id=bot.pk,
        client_order_id=trade.client_order_id,
        order_id=trade.order_id,
        symbol=trade.symbol,
        side=trade.type,
        quantity=trade.quantity,
        filled_quantity=trade.filled_quantity,
        price=str(trade.price) if trade.price is not None else None,
        status=trade.status,
        broker_answer=result.message or result.status,
    )
    hold_after_refusal(bot=bot, trade=trade)
    stops_follow_trade(trade=trade, broker=broker)
    if trade.status != Trade.Status.PENDING:
        _count_ended(bot, trade)
        notices.order_ended(bot=bot, trade=trade)
    return trade


def _count_ended(bot: Bot, trade: Trade) -> None:
    """Counted once: a trade is only recorded again while pending."""
    broker = bot.broker_account.kind
    metrics.ORDERS.labels(trade.type, trade.status, broker).inc()
    if trade.status == Trade.Status.FILLED and trade.filled_at:
        metrics.ORDER_TO_FILL.labels(broker).observe(max((trade.filled_at - trade.timestamp).total_seconds(), 0))


def _too_old_to_send(trade: Trade, now: datetime) -> OrderResult:
    minutes = (now - trade.timestamp).total_seconds() / 60
    logger.warning("order %s never reached the broker; cancelled after %.0f min", trade.client_order_id, minutes)
    return _not_sent(
        trade, f"never reached the broker; cancelled after {minutes:.0f} min, too old to send at the price decided"
    )


def _pending(bot: Bot):
    return bot.trades.pending().order_by("timestamp")


def _submit(bot: Bot, broker: Broker, trade: Trade) -> OrderResult:
    request = OrderRequest(trade.symbol, trade.type, trade.quantity, trade.client_order_id)
    kind = bot.broker_account.kind
    metrics.ORDERS.labels(trade.type, "submitted", kind).inc()
    try:
        if trade.type == Trade.Type.BUY:
            _check_buying_power(broker, trade)
        result = broker.submit_order(request)
    except OrderRejected as exc:
        result = _not_sent(trade, str(exc), status="failed")
    now = timezone.now()
    metrics.SIGNAL_TO_ORDER.labels(kind).observe(max((now - trade.timestamp).total_seconds(), 0))
    notices.order_sent(bot=bot, now=now)
    return result


def _check_buying_power(broker: Broker, trade: Trade) -> None:
    """A buy the account cannot pay for is refused before it is sent, with the two figures: the broker
    would refuse it anyway, and an account shared with other bots or used by hand may have less than
    the bot's own books say."""
    power = broker.account().buying_power
    cost = Decimal(str(trade.indicators_snapshot.get("close", 0))) * trade.quantity
    if cost > power:
        raise OrderRejected(f"insufficient buying power at the broker: {power:,.2f} for an order of about {cost:,.2f}")


def _not_sent(trade: Trade, message: str, *, status: str = "cancelled") -> OrderResult:
    return OrderResult(
        order_id="",
        client_order_id=trade.client_order_id,
        symbol=trade.symbol,
        side=trade.type,
        quantity=trade.quantity,
        status=status,
        message=message,
    )


def position_close(*, position: Position, reason: str = "closed by hand") -> Trade:
    """Sell the whole position now through its bot's broker: closing by hand is an order like any
    other. The fill closes the position and records the P&L."""
    if not position.is_open:
        raise Conflict("the position is already closed")
    bot = position.bot
    if bot is None:
        raise Conflict("the position's bot no longer exists: close it at the broker")
    # One manual close per position and attempt: a double click or a retried request cannot sell twice.
    market = market_for(bot.broker_account)
    trade = order_send(
        bot=bot,
        broker=broker_for(bot.broker_account, market),
        symbol=position.symbol,
        side="sell",
        quantity=position.quantity,
        client_order_id=next_attempt_id(f"tb-{bot.pk}-{position.symbol}-sell-close-{position.pk}"),
        bar_time=None,
        reason=reason,
        snapshot={"close": float(position.current_price)},
    )
    if trade is None:
        raise Conflict("a close order for this position was already sent")
    audit_record(
        action=AuditEntry.Action.POSITION_CLOSED,
        target=position,
        owner_id=bot.owner_id,
        bot_id=bot.pk,
        details={"symbol": position.symbol, "quantity": position.quantity, "reason": reason, "status": trade.status},
    )
    return trade


def next_attempt_id(base: str) -> str:
    """The client order id of an order that is one per purpose (a position's close, its stop): `base`
    itself, or once the broker refused or cancelled earlier attempts, `base-2`, `base-3`... So the
    same attempt seen twice sends one order, and a refused one can be tried again."""
    ended = Trade.objects.filter(
        Q(client_order_id=base) | Q(client_order_id__startswith=f"{base}-"),
        status__in=[Trade.Status.FAILED, Trade.Status.CANCELLED],
    ).count()
    return base if not ended else f"{base}-{ended + 1}"
