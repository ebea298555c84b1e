"""Reads of positions for the pages: the filtered list and its summary, in a constant number of queries."""

from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum

from positions.forms import SORTS
from positions.models import Position

MONEY = DecimalField(max_digits=24, decimal_places=6)


def position_list(*, user, state: str = "open", bot=None, symbol: str = "", sort: str = "") -> QuerySet[Position]:
    positions = Position.objects.for_user(user).filter(is_open=state == "open")
    if bot is not None:
        positions = positions.filter(bot=bot)
    if symbol:
        positions = positions.filter(symbol=symbol)
    positions = positions.annotate(value=ExpressionWrapper(F("current_price") * F("quantity"), output_field=MONEY))
    if sort in SORTS:
        ordering = SORTS[sort][1]
    elif state == "closed":
        ordering = ["-closed_at", "-id"]
    else:
        ordering = ["-opened_at", "-id"]
    return positions.order_by(*ordering)


def position_summary(positions: QuerySet[Position]) -> dict:
    """Count, market value, unrealized and realized P&L of the filtered positions: one query."""
    row = positions.order_by().aggregate(
        count=Count("id"),
        market_value=Sum(F("current_price") * F("quantity"), output_field=MONEY),
        unrealized_pnl=Sum("unrealized_pnl"),
        realized_pnl=Sum("realized_pnl"),
    )
    zero = Decimal(0)
    return {key: (value if value is not None else zero) for key, value in row.items()}
