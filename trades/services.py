"""Recording trades. An order is written ahead as a pending trade (its client order id unique in the
database) before it reaches the broker, so a crash at any point leaves a record the next tick repairs."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from brokers.base import OrderResult
from engine.risk import protective_prices
from positions.models import Position
from positions.services import position_open_filled, position_sell_filled
from tradebot.events import publish
from trades.models import Trade


def client_order_id(*, bot_id: int, symbol: str, side: str, bar_time: datetime) -> str:
    """Deterministic per bot, symbol, side and decision bar: a retried or overlapping tick gets the same id."""
    return f"tb-{bot_id}-{symbol}-{side}-{bar_time:%Y%m%dT%H%M}"


def trade_record_pending(
    *,
    bot,
    symbol: str,
    side: str,
    quantity: int,
    client_order_id: str,
    timestamp: datetime,
    bar_time: datetime | None,
    reason: str,
    snapshot: dict,
) -> Trade:
    """Write the pending trade of an order about to be sent (the order path, bots.orders, decides
    whether it may be sent and holds the bot's lock meanwhile). IntegrityError when the client order
    id was already recorded."""
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
