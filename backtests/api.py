"""/api/backtests: queue a backtest, list yours, read one with its progress and results.

The shapes live here rather than in bots/schemas.py: nothing else uses them.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.shortcuts import get_object_or_404
from ninja import ModelSchema, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import ConfigDict, Field

from backtests import services
from backtests.models import Backtest
from bots.models import Bot
from engine.config import EXAMPLE_CONFIG, BotConfig
from engine.market_time import Timeframe
from tradebot.api_types import Id, Pagination
from tradebot.errors import Invalid

router = Router(tags=["backtests"])


class BacktestIn(Schema):
    """A bot (its saved configuration) or an unsaved configuration, over the session days start..end
    (New York). Left out: symbols, timeframe and capital come from the configuration; slippage and
    commission from the bot's broker account, else a new account's defaults."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"config": EXAMPLE_CONFIG, "start": "2024-03-04", "end": "2024-03-08"}]},
    )

    bot_id: Id | None = Field(None, description="Also links the backtest to the bot when a config is given")
    config: BotConfig | None = Field(
        None, description="Run this configuration (the bots API's shape) instead of the bot's"
    )
    symbols: Annotated[list[str], Field(min_length=1, max_length=50)] | None = None
    timeframe: Timeframe | None = None
    start: date
    end: date
    capital: Annotated[Decimal, Field(gt=0, le=Decimal("1e12"), max_digits=16, decimal_places=2)] | None = None
    slippage: Annotated[Decimal, Field(ge=0, lt=1, max_digits=8, decimal_places=6)] | None = Field(
        None, description="Fraction of the price, against you on every fill"
    )
    commission: Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=4)] | None = Field(
        None, description="Dollars per order"
    )


class BacktestStatsOut(Schema):
    start: datetime
    end: datetime
    bars: int
    final_equity: Decimal
    return_pct: Decimal
    buy_and_hold_return_pct: float | None
    trades: int = Field(description="Closed round trips")
    win_rate_pct: float | None
    profit_factor: float | None = Field(description="Gross profit / gross loss; null without a losing trade")
    expectancy: Decimal | None = Field(description="Average P&L of a closed trade, in dollars")
    max_drawdown_pct: float
    sharpe_ratio: float | None = Field(description="Daily returns, annualised by √252")
    sortino_ratio: float | None
    exposure_time_pct: float
    open_positions: int


class BacktestOut(ModelSchema):
    id: int
    bot_id: int | None
    name: str
    symbols: list[str]
    timeframe: Timeframe
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="0 to 1")
    stats: BacktestStatsOut | None = Field(description="Once done")

    class Meta:
        model = Backtest
        fields = [
            "start", "end", "capital", "slippage", "commission", "error", "trade_count",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip

    @staticmethod
    def resolve_stats(backtest: Backtest) -> dict | None:
        return backtest.stats or None


class BacktestTradeOut(Schema):
    symbol: str
    side: Literal["buy", "sell"]
    quantity: int
    price: Decimal
    commission: Decimal
    timestamp: datetime = Field(description="The fill: the open of the bar after the one decided on")
    bar_time: datetime = Field(description="The bar decided on (its open time)")
    profit_loss: Decimal | None = Field(description="Sells only")
    reason: str


class OpenPositionOut(Schema):
    symbol: str
    quantity: int
    entry_price: Decimal
    opened_at: datetime
    stop_loss_price: Decimal | None
    take_profit_price: Decimal | None
    last_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal


class EquityCurveOut(Schema):
    """Downsampled to at most a couple of thousand points, keeping every peak and trough."""

    time: list[int] = Field([], description="Bar open times, seconds since the epoch")
    equity: list[float] = []
    drawdown: list[float] = Field([], description="Fraction below the running peak, <= 0")


class BacktestDetailOut(BacktestOut):
    config: dict[str, Any] = Field(description="The configuration as run")
    trades: list[BacktestTradeOut] = Field(
        description=f"The fills: the first {services.MAX_STORED_TRADES:,} of trade_count"
    )
    equity_curve: EquityCurveOut
    open_positions: list[OpenPositionOut] = Field(description="Still open at the end, valued at the last close")


def _bot(owner, bot_id: int | None) -> Bot | None:
    """The caller's bot named in the payload; a stranger's or a missing one is a field error."""
    if bot_id is None:
        return None
    bot = Bot.objects.for_user(owner).select_related("broker_account").filter(pk=bot_id).first()
    if bot is None:
        raise Invalid([{"field": "bot_id", "message": "no such bot"}])
    return bot


@router.post("/backtests", response={201: BacktestOut})
def backtest_create(request, payload: BacktestIn):
    owner = request.auth
    arguments = payload.dict(exclude={"bot_id", "config"})
    backtest = services.backtest_create(
        owner=owner, bot=_bot(owner, payload.bot_id), config=payload.config, **arguments
    )
    return Status(201, backtest)


@router.get("/backtests", response=list[BacktestOut])
@paginate(Pagination)
def backtest_list(request):
    return Backtest.objects.for_user(request.auth).summaries()


@router.get("/backtests/{id}", response=BacktestDetailOut)
def backtest_detail(request, id: Id):
    # Another user's backtest is a 404, not a 403: ids do not reveal what exists.
    return get_object_or_404(Backtest.objects.for_user(request.auth), pk=id)
