"""Positions: opened and closed by fills, marked to market between ticks."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F, Value
from django.utils import timezone

from positions.models import Position
from tradebot.events import publish


def position_open_filled(*, trade, stop_loss_price: Decimal | None, take_profit_price: Decimal | None) -> Position:
    position = Position.objects.create(
        owner_id=trade.owner_id,
        bot=trade.bot,
        bot_name=trade.bot_name,
        symbol=trade.symbol,
        quantity=trade.quantity,
        entry_price=trade.price,
        entry_commission=trade.commission,
        current_price=trade.price,
        stop_loss_price=stop_loss_price,
        take_profit_price=take_profit_price,
        opened_at=trade.filled_at or timezone.now(),
    )
    publish("position_updated", position_payload(position), user_id=position.owner_id)
    return position


def commission_share(commission: Decimal, part: int, whole: int) -> Decimal:
    """The part of an entry commission that `part` of `whole` shares carry, to the cent's ten-thousandth."""
    return (commission * part / whole).quantize(Decimal("0.000001"))


def position_sell_filled(*, position: Position, trade) -> Decimal:
    """Apply the filled sell `trade` to `position`; returns the realized P&L of the shares sold, net of
    the sell's commission and their share of the entry commission. Selling every share closes it; a
    partial fill leaves the rest open."""
    sold = min(trade.quantity, position.quantity)
    entry_share = commission_share(position.entry_commission, sold, position.quantity)
    realized = (trade.price - position.entry_price) * sold - entry_share - trade.commission
    position.current_price = trade.price
    position.realized_pnl += realized
    if sold == position.quantity:
        position.exit_price = trade.price
        position.unrealized_pnl = Decimal(0)
        position.is_open = False
        position.closed_at = trade.filled_at or timezone.now()
    else:
        position.quantity -= sold
        position.entry_commission -= entry_share
        position.unrealized_pnl = (trade.price - position.entry_price) * position.quantity - position.entry_commission
    position.save()
    publish("position_updated", position_payload(position), user_id=position.owner_id)
    return realized


def position_mark(*, position: Position, price: Decimal) -> Position:
    """Mark an open position at `price` (its unrealized P&L counts the entry commission already paid)."""
    with transaction.atomic():
        updated = Position.objects.filter(pk=position.pk, is_open=True).update(
            current_price=price,
            # From the row as it stands: a partial sell may have filled since `position` was read.
            unrealized_pnl=(Value(price) - F("entry_price")) * F("quantity") - F("entry_commission"),
            updated_at=timezone.now(),
        )
    if updated:
        position.refresh_from_db()
        publish("position_updated", position_payload(position), user_id=position.owner_id)
    return position


def position_payload(position: Position) -> dict:
    return {
        "id": position.pk,
        "bot_id": position.bot_id,
        "bot_name": position.bot_name,
        "symbol": position.symbol,
        "quantity": position.quantity,
        "entry_price": position.entry_price,
        "current_price": position.current_price,
        "exit_price": position.exit_price,
        "unrealized_pnl": position.unrealized_pnl,
        "realized_pnl": position.realized_pnl,
        "stop_loss_price": position.stop_loss_price,
        "take_profit_price": position.take_profit_price,
        "is_open": position.is_open,
        "opened_at": position.opened_at,
        "closed_at": position.closed_at,
    }
