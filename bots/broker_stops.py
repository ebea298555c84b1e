"""Stops resting at the broker (a bot's `risk_management.stop_at_broker`, Alpaca accounts only): a
stop (market) sell for an open position's shares at its stop price, so the stop holds while every
Tradebot process is down.

Alpaca holds the shares of a resting sell against it: a market sell of the same shares is refused
("insufficient qty available"), or, on an account where another bot holds the symbol too, goes
through and sells twice. So every exit cancels the stop first and sends its sell only once the
broker confirms the cancel (`stop_clear_for_exit`, called by the one order path), and a stop that
filled meanwhile is the exit itself: the position closes from its fill and nothing more is sold.

One rule, kept under the bot's row lock: a position never has an active stop (sending, working) and
a pending sell at once. Stops are placed or replaced after a buy fills (partly or whole) and after a
sell ends with shares left (`stops_follow_trade`); the repair path (`stops_settle`) records fills,
cancels and expiries found at the broker and places the stops still missing.
"""

import logging
import time
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from bots import notices
from bots.models import Bot, BrokerAccount, BrokerStop
from brokers.base import Broker, BrokerError, OrderRejected, OrderResult, StopRequest
from positions.models import Position
from tradebot.errors import Conflict
from trades.models import Trade
from trades.services import trade_apply_result, trade_record_pending

logger = logging.getLogger(__name__)

STOP_ORDER_PREFIX = "tb-stop-"
# Alpaca answers a cancel at once and confirms it a moment later (pending_cancel, then canceled).
CANCEL_CHECKS = 5
CANCEL_CHECK_DELAY = 0.2
CENT, SUB_DOLLAR_STEP = Decimal("0.01"), Decimal("0.0001")


def stop_keep(*, position: Position, broker: Broker) -> BrokerStop | None:
    """The stop resting for the position now: placed when it has none, replaced (cancel, then a new
    client order id) when the shares or the stop price changed. None when the bot rests no stops or
    the position is on its way out (a sell pending, or it closed)."""
    bot = position.bot
    if not _wanted(bot, position) and _active(position) is None:
        return None  # nothing rests nor should: no lock taken for the bots that rest no stops
    with transaction.atomic():
        _lock(bot)
        position = Position.objects.get(pk=position.pk)
        current = _active(position)
        if not _wanted(bot, position):
            if current is not None:
                _cancel_and_settle(current, broker)
            return None
        if bot.trades.pending().filter(symbol=position.symbol, type=Trade.Type.SELL).exists():
            return None
        if current is not None:
            if _covers(current, position):
                return current
            _cancel_and_settle(current, broker)
            position.refresh_from_db()
            if not position.is_open or _pending_sell(bot, position):
                return None  # the old stop filled (in part) meanwhile: that is the exit going on
        return _place(position, broker)


def stop_clear_for_exit(*, bot: Bot, broker: Broker, symbol: str) -> Trade | None:
    """Before an exit's sell: cancel the position's resting stop and wait for the broker to confirm.
    Called under the bot's row lock (bots.orders.order_send). Returns the stop's trade when it had
    filled (in whole or part) before it could be cancelled: the position is closed, or smaller, from
    that fill. Conflict when the cancel is not confirmed: the sell must not go out yet."""
    position = Position.objects.filter(bot=bot, symbol=symbol, is_open=True).first()
    stop = _active(position) if position is not None else None
    if stop is None:
        return None
    _cancel_and_settle(stop, broker)
    return Trade.objects.filter(client_order_id=stop.client_order_id).first()


def stop_update_apply(*, stop: BrokerStop, result: OrderResult | None, broker: Broker) -> BrokerStop:
    """The broker's word on a resting stop (an order lookup, a stream's trade update): a fill closes
    the position (or part of it) with the fill's price and commission, reason "stop-loss at broker";
    an order the broker ended (cancelled by hand, expired after 90 days) is recorded as such, and
    the repair path places a new one; a stop written ahead that never reached the broker is sent now
    under its own id."""
    bot = stop.position.bot
    with transaction.atomic():
        _lock(bot)
        stop = BrokerStop.objects.select_related("position__bot").get(pk=stop.pk)
        if stop.status not in BrokerStop.ACTIVE:
            return stop
        if result is None and stop.status == BrokerStop.Status.SENDING:
            return _submit(stop, broker)
        _settle(stop, result)
    return stop


def stops_follow_trade(*, trade: Trade, broker: Broker) -> None:
    """After the books recorded an order's news: the stop's own trade ends its stop; a buy that
    filled (partly or whole) and a sell that ended with shares left get their stop placed or
    replaced. A broker failure here leaves the position to the repair path, never the trade unrecorded."""
    if trade.client_order_id.startswith(STOP_ORDER_PREFIX) and trade.status != Trade.Status.PENDING:
        BrokerStop.objects.filter(client_order_id=trade.client_order_id, status__in=BrokerStop.ACTIVE).update(
            status=BrokerStop.Status.FILLED if trade.filled_quantity else BrokerStop.Status.CANCELLED,
            updated_at=timezone.now(),
        )
    bought = trade.type == Trade.Type.BUY and trade.filled_quantity
    sold_some = trade.type == Trade.Type.SELL and trade.status != Trade.Status.PENDING
    if trade.bot is None or not (bought or sold_some):
        return
    position = Position.objects.filter(bot=trade.bot, symbol=trade.symbol, is_open=True).first()
    if position is None:
        return
    try:
        stop_keep(position=position, broker=broker)
    except (BrokerError, Conflict) as exc:
        logger.warning("could not rest the stop of position %s at the broker: %s", position.pk, exc)


def stops_settle(*, account: BrokerAccount, broker: Broker, working: list[OrderResult] | None = None) -> int:
    """The repair path for one Alpaca account's resting stops: each the books hold as active is
    compared with the broker's order (`working`, the broker's open orders, saves a lookup per stop
    still resting), then every open position that should have a stop gets one. Returns how many stops
    changed."""
    resting = {order.client_order_id: order for order in (broker.open_orders() if working is None else working)}
    changed = 0
    active = BrokerStop.objects.filter(status__in=BrokerStop.ACTIVE, position__bot__broker_account=account)
    for stop in active.select_related("position__bot"):
        found = resting.get(stop.client_order_id)
        if found is not None and stop.status == BrokerStop.Status.WORKING and not found.filled_quantity:
            continue
        result = found or broker.get_order(stop.client_order_id)
        if stop_update_apply(stop=stop, result=result, broker=broker).status != stop.status:
            changed += 1
    holding = Position.objects.filter(is_open=True, bot__broker_account=account).select_related("bot")
    for position in holding:
        if _wanted(position.bot, position) != (_active(position) is not None):
            try:
                changed += stop_keep(position=position, broker=broker) is not None
            except (BrokerError, Conflict) as exc:
                logger.warning("could not rest the stop of position %s at the broker: %s", position.pk, exc)
    return changed


def broker_stop_price(stop_loss_price: Decimal) -> Decimal:
    """The stop price Alpaca accepts: whole cents from $1 up (it refuses sub-penny increments), and
    rounded down, so the resting stop stays the backstop: Tradebot's own watch of the exact stop acts
    first whenever it is up, and cancels this one as it exits."""
    step = CENT if stop_loss_price >= 1 else SUB_DOLLAR_STEP
    return stop_loss_price.quantize(step, rounding=ROUND_DOWN)


def _wanted(bot: Bot, position: Position) -> bool:
    return (
        position.is_open
        and position.stop_loss_price is not None
        and bot.broker_account.kind == BrokerAccount.Kind.ALPACA
        and bot.risk().stop_at_broker
    )


def _covers(stop: BrokerStop, position: Position) -> bool:
    return (stop.quantity, stop.stop_price) == (position.quantity, broker_stop_price(position.stop_loss_price))


def _pending_sell(bot: Bot, position: Position) -> bool:
    return bot.trades.pending().filter(symbol=position.symbol, type=Trade.Type.SELL).exists()


def _lock(bot: Bot) -> None:
    Bot.objects.select_for_update().filter(pk=bot.pk).values_list("pk", flat=True).first()


def _active(position: Position) -> BrokerStop | None:
    return position.broker_stops.filter(status__in=BrokerStop.ACTIVE).first()


def _place(position: Position, broker: Broker) -> BrokerStop:
    last = position.broker_stops.order_by("-number").first()
    if last is not None and last.status == BrokerStop.Status.REFUSED and _covers(last, position):
        return last  # the broker would refuse the same stop again: not resent every minute
    number = last.number + 1 if last is not None else 1
    stop = BrokerStop.objects.create(
        position=position,
        number=number,
        client_order_id=BrokerStop.client_order_id_for(position.pk, number),
        quantity=position.quantity,
        stop_price=broker_stop_price(position.stop_loss_price),
    )
    return _submit(stop, broker)


def _submit(stop: BrokerStop, broker: Broker) -> BrokerStop:
    """Send the stop written ahead. A failure to reach the broker leaves it `sending`, under the same
    client order id: a later lookup finds it there or sends it again, never a second one."""
    position = stop.position
    request = StopRequest(position.symbol, stop.quantity, stop.stop_price, stop.client_order_id)
    try:
        result = broker.submit_stop(request)
    except OrderRejected as exc:
        stop.status, stop.message = BrokerStop.Status.REFUSED, str(exc)[:500]
        logger.warning("stop %s refused by the broker: %s", stop.client_order_id, exc)
    except BrokerError as exc:
        logger.warning("stop %s may not have reached the broker: %s", stop.client_order_id, exc)
        return stop
    else:
        _settle(stop, result)
        logger.info(
            "stop %s resting: sell %s %s at %s",
            stop.client_order_id,
            stop.quantity,
            stop.position.symbol,
            stop.stop_price,
        )
    stop.save()
    return stop


def _cancel_and_settle(stop: BrokerStop, broker: Broker) -> None:
    """Cancel the stop at the broker and record how it ended: cancelled, or filled (the fill closes
    the position). Conflict while the broker has not confirmed: no sell may go out meanwhile."""
    result = broker.get_order(stop.client_order_id)
    if result is not None and result.status == "pending":
        try:
            broker.cancel_order(result.order_id)
        except OrderRejected:
            pass  # not cancelable any more (filled, or filling): the lookups below say which
        result = _confirmed(stop, broker)
    # None: a stop written ahead whose sending failed never reached the broker; nothing rests.
    _settle(stop, result, ended_by_us=True)


def _confirmed(stop: BrokerStop, broker: Broker) -> OrderResult:
    for check in range(CANCEL_CHECKS):
        if check:
            time.sleep(CANCEL_CHECK_DELAY)
        result = broker.get_order(stop.client_order_id)
        if result is not None and result.status != "pending":
            return result
    raise Conflict(
        f"the stop resting at the broker ({stop.client_order_id}) is not cancelled yet: no sell sent while it "
        "may still fill; the exit is tried again"
    )


def _settle(stop: BrokerStop, result: OrderResult | None, *, ended_by_us: bool = False) -> None:
    """Record the broker's word on the stop; a fill, whole or part, is its position's sell."""
    if result is not None:
        stop.order_id = result.order_id or stop.order_id
    if result is not None and result.filled_quantity:
        _record_fill(stop, result)
    if result is None:
        stop.status, stop.message = BrokerStop.Status.CANCELLED, "never reached the broker"
    elif result.status == "pending":
        stop.status = BrokerStop.Status.WORKING
    elif result.filled_quantity:
        stop.status, stop.message = BrokerStop.Status.FILLED, result.message
    else:
        why = "cancelled before the exit's sell" if ended_by_us else result.message or "ended by the broker"
        stop.status, stop.message = BrokerStop.Status.CANCELLED, why[:500]
    stop.save()


def _record_fill(stop: BrokerStop, result: OrderResult) -> Trade:
    """The stop's fill as the position's sell, through the books' one fill path (P&L, commission,
    the position closed or made smaller): its trade carries the stop's client order id, so a fill
    seen twice (a lookup, the stream) is recorded once."""
    position = stop.position
    trade = Trade.objects.filter(client_order_id=stop.client_order_id).first()
    if trade is None:
        trade = trade_record_pending(
            bot=position.bot,
            symbol=position.symbol,
            side=Trade.Type.SELL,
            quantity=stop.quantity,
            client_order_id=stop.client_order_id,
            timestamp=timezone.now(),
            bar_time=None,
            reason=f"stop-loss at broker: the stop at {broker_stop_price(stop.stop_price)} filled",
            snapshot={"close": float(stop.stop_price)},
        )
        logger.info(
            "stop %s filled at the broker: %s of %s", stop.client_order_id, result.filled_quantity, stop.quantity
        )
    trade = trade_apply_result(trade=trade, result=result)
    if trade.status != Trade.Status.PENDING:
        notices.order_ended(bot=position.bot, trade=trade)
    return trade
