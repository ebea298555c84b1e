"""The JSON API's shapes for trades, and the limit / offset pagination every list shares."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, ModelSchema, Schema
from pydantic import PlainValidator, WithJsonSchema

from tradebot.api_types import Id, Text
from trades.models import Trade
from trades.selectors import ORDERINGS

DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Far enough for any real query, near enough that day arithmetic and time zone shifts never overflow.
YEARS = range(1900, 2201)


def _moment(value) -> date | datetime:
    """A date (a whole New York trading day) or an ISO 8601 datetime (naive means UTC), as one field
    with one error."""
    if not isinstance(value, date):
        text = str(value).strip()
        try:
            value = date.fromisoformat(text) if DATE_ONLY.match(text) else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be a date (2024-03-01) or an ISO 8601 datetime (2024-03-01T14:30:00Z)") from None
    if value.year not in YEARS:
        raise ValueError(f"must be between {YEARS.start} and {YEARS.stop - 1}")
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


Moment = Annotated[
    date | datetime,
    PlainValidator(_moment),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}),
]


class TradeFilters(Schema):
    start: Moment | None = Field(
        None, description="Placed at or after (a date means from that New York trading day's start)"
    )
    end: Moment | None = Field(
        None, description="Placed at or before (a date means to that New York trading day's end)"
    )
    bot_id: Id | None = None
    symbol: Annotated[Text, Field(min_length=1, max_length=16)] | None = None
    type: Literal["buy", "sell"] | None = None
    status: Literal["pending", "filled", "cancelled", "failed"] | None = None


class TradeQuery(TradeFilters):
    ordering: Literal[ORDERINGS] = "-timestamp"  # type: ignore[valid-type]


class TradeOut(ModelSchema):
    id: int
    bot_id: int | None = Field(description="null once the bot is deleted (bot_name stays)")
    position_id: int | None
    indicators_snapshot: dict[str, Any] = Field(description="The indicator values the decision was made on")
    type: Literal["buy", "sell"]
    status: Literal["pending", "filled", "cancelled", "failed"]

    class Meta:
        model = Trade
        fields = [
            "bot_name", "symbol", "quantity", "price", "timestamp", "filled_at", "bar_time",
            "profit_loss", "order_id", "client_order_id", "commission", "slippage",
            "reason", "message",
        ]  # fmt: skip


class TradeStatsOut(Schema):
    count: int = Field(description="Closed round trips: filled sells with a realized P&L")
    wins: int
    losses: int
    win_rate_pct: float | None
    total_pnl: Decimal
    average_pnl: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    profit_factor: float | None = Field(description="Gross profit / gross loss; null without a losing trade")
    expectancy: Decimal | None
    largest_win: Decimal | None
    largest_loss: Decimal | None
    max_drawdown: Decimal = Field(description="Deepest fall of cumulative realized P&L from its peak, in dollars")
    sharpe_ratio: float | None = Field(description="Daily realized P&L: mean / sample std × √252; null under 2 days")
