"""Recording trades. An order is written ahead as a pending trade (its client order id unique in the
database) before it reaches the broker, so a crash at any point leaves a record the next tick repairs."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from brokers.base import OrderResult
from engine.risk import protective_prices
from positions.models import Position
from positions.services import Fill, position_buy_filled, position_sell_filled
from tradebot.events import publish
from trades.models import Trade

PRICE_PLACES = Decimal("0.000001")  # the money columns' precision


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
    """Bring a pending trade up to the broker's word, its position in the same transaction. A fill,
    whole or part, is recorded as it stands (the position holds the shares filled so far); the trade
    stays pending until the broker is done with the order, then holds what was filled. Applying the
    same result twice changes nothing."""
    with transaction.atomic():
        # Lock the trade row only: its bot is a nullable (outer) join, which PostgreSQL cannot lock.
        trade = Trade.objects.select_for_update(of=("self",)).select_related("bot").get(pk=trade.pk)
        if trade.status != Trade.Status.PENDING:
            return trade
        trade.order_id = result.order_id or trade.order_id
        filled = result.filled_quantity or (trade.quantity if result.status == "filled" else 0)
        if filled > trade.filled_quantity and result.filled_price is not None:
            _fill(trade, result, filled)
        if result.status != "pending":
            _finish(trade, result)
        trade.save()
    return trade


def _fill(trade: Trade, result: OrderResult, filled: int) -> None:
    """Record what the broker has filled of the order so far: `filled` shares at its average price."""
    price = result.filled_price
    fill = Fill(quantity=filled, price=price, commission=result.commission, at=result.filled_at)
    if trade.type == Trade.Type.BUY:
        stop, take = protective_prices(trade.bot.risk().rules(), price)
        trade.position = position_buy_filled(
            trade=trade, position=trade.position, fill=fill, stop_loss_price=stop, take_profit_price=take
        )
    else:
        # Only the shares filled since last time leave the position, at what they fetched.
        part = filled - trade.filled_quantity
        earlier = (trade.price or 0) * trade.filled_quantity
        part_fill = Fill(
            quantity=part,
            price=((price * filled - earlier) / part).quantize(PRICE_PLACES),
            commission=result.commission - trade.commission,
            at=result.filled_at,
        )
        position = Position.objects.select_for_update().get(bot=trade.bot, symbol=trade.symbol, is_open=True)
        trade.profit_loss = (trade.profit_loss or 0) + position_sell_filled(position=position, fill=part_fill)
        trade.position = position
    trade.filled_quantity = filled
    trade.price = price
    trade.filled_at = result.filled_at
    trade.commission = result.commission
    reference = trade.indicators_snapshot.get("close")
    if reference is not None:
        # Slippage is a cost: paying above the decision price on a buy, receiving below it on a sell.
        direction = 1 if trade.type == Trade.Type.BUY else -1
        trade.slippage = (price - Decimal(str(reference))) * direction * filled


def _finish(trade: Trade, result: OrderResult) -> None:
    """The broker is done with the order: the trade is what it filled, or the order's end."""
    trade.message = result.message[:500]
    if not trade.filled_quantity:
        trade.status = result.status if result.status != "filled" else Trade.Status.FAILED
        if result.status == "filled":
            trade.message = "the broker reported a fill without a price"
        return
    trade.status = Trade.Status.FILLED
    trade.quantity = trade.filled_quantity
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
