"""The JSON API's shapes for positions."""

from decimal import Decimal
from typing import Annotated, Literal

from ninja import Field, ModelSchema, Schema

from positions.models import Position
from tradebot.api_types import Id, Text
from trades.schemas import TradeOut

ORDERINGS = (
    "opened_at", "-opened_at", "closed_at", "-closed_at", "symbol", "-symbol",
    "unrealized_pnl", "-unrealized_pnl", "realized_pnl", "-realized_pnl",
)  # fmt: skip


class PositionQuery(Schema):
    bot_id: Id | None = None
    symbol: Annotated[Text, Field(min_length=1, max_length=16)] | None = None
    is_open: bool = Field(True, description="Open positions (the default), or closed ones")
    ordering: Literal[ORDERINGS] = "-opened_at"  # type: ignore[valid-type]


class PositionOut(ModelSchema):
    id: int
    bot_id: int | None
    market_value: Decimal = Field(description="current_price × quantity")

    class Meta:
        model = Position
        fields = [
            "bot_name", "symbol", "quantity", "entry_price", "entry_commission", "current_price", "exit_price",
            "stop_loss_price", "take_profit_price", "unrealized_pnl", "realized_pnl", "opened_at", "closed_at",
            "is_open", "updated_at",
        ]  # fmt: skip


class PositionCloseOut(Schema):
    """The sell order sent to the broker and the position it closed (still open while the order is pending)."""

    position: PositionOut
    trade: TradeOut
