"""/api/market-status, /api/market-data/{symbol} and /api/summary."""

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import PlainValidator, ValidationError, WithJsonSchema

from bots import selectors
from engine.config import SYMBOL_RE
from bots.connections import market_status_for
from engine.indicators import REGISTRY, Params
from bots.schemas import Id
from bots.services import default_broker_account
from engine.market_time import TIMEFRAMES

router = Router(tags=["market"])


def _account(request, account_id: int | None):
    """The caller's chosen broker account (its feed and clock), or their default simulated one."""
    if account_id is None:
        return default_broker_account(request.auth)
    return get_object_or_404(selectors.broker_account_list(user=request.auth), pk=account_id)


class MarketStatusOut(Schema):
    is_open: bool
    next_open: datetime
    next_close: datetime
    source: str = Field(description="Whose clock: alpaca, nyse or always_open (the simulated market's demo mode)")
    timestamp: datetime


@router.get("/market-status", response=MarketStatusOut)
def market_status(request, broker_account_id: Id | None = None):
    return market_status_for(_account(request, broker_account_id), timezone.now())


def _indicators(value) -> dict[str, Params]:
    """'RSI,MACD' (default parameters) or the bot configuration's JSON form, '{"SMA": {"period": 50}}'."""
    if not value:
        return {}
    text = str(value)
    if len(text) > 2000:
        raise ValueError("is too long (2000 characters at most)")
    if text.lstrip().startswith("{"):
        try:
            requested = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("is neither a comma-separated list of names nor a JSON object") from None
        if not isinstance(requested, dict):
            raise ValueError("must be a JSON object of indicator parameters")
    else:
        requested = {name.strip().upper(): {} for name in text.split(",") if name.strip()}
    params = {}
    for name, raw in requested.items():
        if name not in REGISTRY:
            raise ValueError(f"unknown indicator {name!r} (known: {', '.join(REGISTRY)})")
        try:
            params[name] = REGISTRY[name].params.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, (name, *e['loc'])))}: {e['msg']}" for e in exc.errors())
            raise ValueError(problems) from None
    return params


Indicators = Annotated[
    dict[str, Params],
    PlainValidator(_indicators),
    WithJsonSchema({"type": "string", "maxLength": 2000}),
]


class MarketDataQuery(Schema):
    timeframe: Literal[tuple(TIMEFRAMES)] = "1Min"  # type: ignore[valid-type]
    limit: int = Field(100, ge=1, le=1000)
    indicators: Indicators = Field(
        default_factory=dict,
        description='Indicators to compute: "RSI,MACD" (default parameters) or {"SMA": {"period": 50}}',
    )
    broker_account_id: Id | None = None


class BarOut(Schema):
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: float


class SignalOut(Schema):
    ready: bool
    entry: bool
    exit: bool
    votes: dict[str, str]


class MarketDataOut(Schema):
    symbol: str
    timeframe: str
    price: Decimal = Field(description="The latest price")
    bars: list[BarOut] = Field(description="Closed bars, oldest first")
    indicators: dict[str, dict[str, list[float | None]]] = Field(
        description="Per indicator and output, one value per bar (null while warming up)"
    )
    signal: SignalOut | None = Field(description="The indicators' votes on the latest bar (majority mode)")


Symbol = Annotated[str, Field(pattern=SYMBOL_RE.pattern.replace("A-Z", "A-Za-z"))]


@router.get("/market-data/{symbol}", response=MarketDataOut)
def market_data(request, symbol: Symbol, query: Query[MarketDataQuery]):
    snapshot = selectors.market_snapshot(
        account=_account(request, query.broker_account_id),
        symbol=symbol.upper(),
        timeframe=query.timeframe,
        limit=query.limit,
        indicators=query.indicators,
    )
    if snapshot is None:
        raise Http404(f"no {query.timeframe} bars for {symbol.upper()}")
    return snapshot


class SummaryOut(Schema):
    bots_by_status: dict[str, int]
    bots_total: int
    open_positions: int
    open_positions_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl_today: Decimal
    realized_pnl_total: Decimal
    total_pnl: Decimal = Field(description="Realized in total + unrealized")
    trades_today: int = Field(description="Filled today (the exchange's day, New York)")
    win_rate_pct: float | None


@router.get("/summary", response=SummaryOut)
def summary(request):
    return selectors.summary(user=request.auth)
