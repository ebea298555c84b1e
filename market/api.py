"""/api/market-status and /api/market-data/{symbol}: the market on the caller's feed and clock
(market.callers: which ones a caller may use)."""

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from django.http import Http404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import PlainValidator, ValidationError, WithJsonSchema

from engine.config import SYMBOL_RE
from engine.indicators import REGISTRY, Params
from engine.market_time import Timeframe
from market.callers import caller_market
from market.selectors import market_snapshot
from tradebot.api_types import Id

router = Router(tags=["market"])


class MarketStatusOut(Schema):
    is_open: bool
    next_open: datetime
    next_close: datetime
    source: str = Field(description="Whose clock: alpaca, nyse or always_open (the simulated market's demo mode)")
    timestamp: datetime


@router.get("/market-status", response=MarketStatusOut)
def market_status(request, broker_account_id: Id | None = None):
    return caller_market(request.auth, broker_account_id).status(timezone.now())


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
    timeframe: Timeframe = "1Min"
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
    snapshot = market_snapshot(
        market=caller_market(request.auth, query.broker_account_id).feed,
        now=timezone.now(),
        symbol=symbol.upper(),
        timeframe=query.timeframe,
        limit=query.limit,
        indicators=query.indicators,
    )
    if snapshot is None:
        raise Http404(f"no {query.timeframe} bars for {symbol.upper()}")
    return snapshot
