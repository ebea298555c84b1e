"""Positions: opened and closed by fills, marked to market between ticks."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Value
from django.utils import timezone

from positions.models import Position
from tradebot.events import publish


@dataclass(frozen=True)
class Fill:
    """Shares a broker filled: of a whole order, or of the part filled since it was last looked at."""

    quantity: int
    price: Decimal
    commission: Decimal
    at: datetime | None


def position_buy_filled(
    *, trade, position: Position | None, fill: Fill, stop_loss_price: Decimal | None, take_profit_price: Decimal | None
) -> Position:
    """The position a buy has filled so far: `fill` is everything filled of the order until now (the
    average price, the commission), so a partly filled buy holds exactly the shares it got."""
    if position is None:
        position = Position(
            owner_id=trade.owner_id,
            bot=trade.bot,
            bot_name=trade.bot_name,
            symbol=trade.symbol,
            opened_at=fill.at or timezone.now(),
        )
    position.quantity = fill.quantity
    position.entry_price = position.current_price = fill.price
    position.entry_commission = fill.commission
    position.stop_loss_price, position.take_profit_price = stop_loss_price, take_profit_price
    position.save()
    publish("position_updated", position_payload(position), user_id=position.owner_id)
    return position


def commission_share(commission: Decimal, part: int, whole: int) -> Decimal:
    """The part of an entry commission that `part` of `whole` shares carry, to the cent's ten-thousandth."""
    return (commission * part / whole).quantize(Decimal("0.000001"))


def position_sell_filled(*, position: Position, fill: Fill) -> Decimal:
    """Apply the shares a sell filled (the whole sell, or the part filled since last looked at) to
    `position`; returns their realized P&L, net of `fill`'s commission and their share of the entry
    commission. Selling every share closes it; a partial fill leaves the rest open."""
    sold = min(fill.quantity, position.quantity)
    entry_share = commission_share(position.entry_commission, sold, position.quantity)
    realized = (fill.price - position.entry_price) * sold - entry_share - fill.commission
    position.current_price = fill.price
    position.realized_pnl += realized
    if sold == position.quantity:
        position.exit_price = fill.price
        position.unrealized_pnl = Decimal(0)
        position.is_open = False
        position.closed_at = fill.at or timezone.now()
    else:
        position.quantity -= sold
        position.entry_commission -= entry_share
        position.unrealized_pnl = (fill.price - position.entry_price) * position.quantity - position.entry_commission
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
        "entry_commission": position.entry_commission,
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
