"""Reads of the market: a symbol's recent bars on a feed, with the engine's indicators on them (the
API, the charts and the pages share this, so a chart shows what a bot computed)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from engine.indicators import REGISTRY, Params
from engine.risk import to_price
from engine.signals import Signal, evaluate, signal_at
from market.base import MarketData
from market.cache import recent_bars


@dataclass(frozen=True)
class MarketSnapshot:
    """A symbol's recent closed bars, its latest price and, optionally, indicators computed by the
    engine on those bars (one value per bar) with their votes on the latest one."""

    symbol: str
    timeframe: str
    price: Decimal
    bars: list[dict]
    indicators: dict[str, dict[str, list[float | None]]]
    signal: Signal | None


# Indicators need a look-back before their first value; it is fetched but not shown.
MAX_WARMUP_BARS = 2000


def market_snapshot(
    *, market: MarketData, symbol: str, timeframe: str, limit: int, indicators: dict[str, Params], now: datetime
) -> MarketSnapshot | None:
    """None when the feed has no bars for the symbol."""
    warmup = min(max((REGISTRY[name].warmup(p) for name, p in indicators.items()), default=0), MAX_WARMUP_BARS)
    bars = recent_bars(market, symbol, timeframe, now=now, limit=limit + warmup)
    if bars.empty:
        return None
    evaluation = evaluate(bars, indicators, "majority") if indicators else None
    shown = bars.iloc[-limit:]
    return MarketSnapshot(
        symbol=symbol,
        timeframe=timeframe,
        price=market.latest_price(symbol, at=now),
        bars=[
            {
                "time": t.to_pydatetime(),
                **{k: to_price(row[k]) for k in ("open", "high", "low", "close")},
                "volume": row["volume"],
            }
            for t, row in shown.iterrows()
        ],
        indicators={
            name: {key: _floats(series.iloc[-limit:]) for key, series in outputs.items()}
            for name, outputs in (evaluation.values.items() if evaluation else ())
        },
        signal=signal_at(evaluation, -1) if evaluation else None,
    )


def _floats(series) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v), 6) for v in series.to_numpy(dtype=float)]
