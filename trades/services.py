"""Recording trades. An order is written ahead as a pending trade (its client order id unique in the
database) before it reaches the broker, so a crash at any point leaves a record the next tick repairs."""

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from bots.models import Bot
from brokers.base import OrderResult
from engine.risk import protective_prices
from positions.models import Position
from positions.services import position_open_filled, position_sell_filled
from tradebot.errors import Conflict
from tradebot.events import publish
from trades.models import Trade


def client_order_id(*, bot_id: int, symbol: str, side: str, bar_time: datetime) -> str:
    """Deterministic per bot, symbol, side and decision bar: a retried or overlapping tick gets the same id."""
    return f"tb-{bot_id}-{symbol}-{side}-{bar_time:%Y%m%dT%H%M}"


def trade_record_pending(
    *,
    bot: Bot,
    symbol: str,
    side: str,
    quantity: int,
    client_order_id: str,
    timestamp: datetime,
    bar_time: datetime | None,
    reason: str,
    snapshot: dict,
) -> Trade | None:
    """The pending trade for an order about to be sent, or None when this order id was already recorded.

    Conflict when the order does not fit the bot's book: another order for the symbol still pending, a buy
    while holding, a sell of more shares than the open position holds (a manual close racing a tick's
    stop-loss, or a tick that outlived its lease). The bot's row lock makes this check and the insert
    one step for every writer of the bot's orders."""
    try:
        with transaction.atomic():
            Bot.objects.select_for_update().filter(pk=bot.pk).values_list("pk", flat=True).first()
            if Trade.objects.filter(client_order_id=client_order_id).exists():
                return None
            if refusal := _order_refusal(bot=bot, symbol=symbol, side=side, quantity=quantity):
                raise Conflict(refusal)
            return Trade.objects.create(
                owner_id=bot.owner_id,
                bot=bot,
                bot_name=bot.name,
                symbol=symbol,
                type=side,
                quantity=quantity,
                timestamp=timestamp,
                bar_time=bar_time,
                client_order_id=client_order_id,
                reason=reason,
                indicators_snapshot=snapshot,
            )
    except IntegrityError:
        return None


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


def trade_apply_result(*, trade: Trade, result: OrderResult) -> Trade:
    """Bring a pending trade up to the broker's word; on a fill, open or close the position in the same
    transaction. Applying the same result twice changes nothing."""
    with transaction.atomic():
        # Lock the trade row only: its bot is a nullable (outer) join, which PostgreSQL cannot lock.
        trade = Trade.objects.select_for_update(of=("self",)).select_related("bot").get(pk=trade.pk)
        if trade.status != Trade.Status.PENDING:
            return trade
        trade.order_id = result.order_id or trade.order_id
        if result.status == "pending":
            trade.save(update_fields=["order_id"])
            return trade
        if result.status in ("cancelled", "failed"):
            trade.status = result.status
            trade.message = result.message[:500]
            trade.save(update_fields=["order_id", "status", "message"])
            return trade
        _fill(trade, result)
    return trade


def _fill(trade: Trade, result: OrderResult) -> None:
    price = result.filled_price
    trade.status = Trade.Status.FILLED
    trade.quantity = result.filled_quantity or trade.quantity
    trade.price = price
    trade.filled_at = result.filled_at
    trade.commission = result.commission
    reference = trade.indicators_snapshot.get("close")
    if reference is not None:
        # Slippage is a cost: paying above the decision price on a buy, receiving below it on a sell.
        direction = 1 if trade.type == Trade.Type.BUY else -1
        trade.slippage = (price - Decimal(str(reference))) * direction * trade.quantity
    if trade.type == Trade.Type.BUY:
        stop, take = protective_prices(trade.bot.risk().rules(), price)
        trade.position = position_open_filled(trade=trade, stop_loss_price=stop, take_profit_price=take)
    else:
        position = Position.objects.select_for_update().get(bot=trade.bot, symbol=trade.symbol, is_open=True)
        trade.profit_loss = position_sell_filled(position=position, trade=trade)
        trade.position = position
    trade.save()
    publish("trade_executed", trade_payload(trade), user_id=trade.owner_id)


def trade_payload(trade: Trade) -> dict:
    return {
        "id": trade.pk,
        "bot_id": trade.bot_id,
        "bot_name": trade.bot_name,
        "symbol": trade.symbol,
        "type": trade.type,
        "quantity": trade.quantity,
        "price": trade.price,
        "timestamp": trade.filled_at or trade.timestamp,
        "profit_loss": trade.profit_loss,
        "status": trade.status,
        "reason": trade.reason,
    }
