"""A bot's price chart as data: candles and volume from the bot's own feed, the indicator series the
engine computes for the bot (market.selectors.market_snapshot, the registry's own functions), its fills
as markers and its open position's entry, stop and target as price lines.

static/js/charts.js draws this shape with Lightweight Charts; nothing is computed in the browser but
the forming bar as prices arrive.
"""

from bisect import bisect_right
from datetime import UTC, datetime

from django.db.models import Q
from django.utils import timezone

from bots.connections import market_for
from bots.models import Bot
from market.selectors import market_snapshot
from positions.models import Position
from trades.models import Trade

CHART_BARS = 200
# Indicators drawn over the candles (on the price scale), and over the volume histogram; every other
# one gets a pane of its own below the price, with its thresholds as lines.
PRICE_OVERLAYS = ("SMA", "EMA", "BBANDS")
VOLUME_OVERLAYS = ("VOLUME_SMA",)
# The levels an indicator's pane marks, from its parameters (MACD's zero line is constant).
THRESHOLDS = {
    "RSI": lambda p: [p.oversold, p.overbought],
    "STOCH": lambda p: [p.oversold, p.overbought],
    "MACD": lambda p: [0],
}
HIDDEN_SERIES = {("VOLUME_SMA", "volume")}  # the volume itself is the histogram already


def bot_chart(*, bot: Bot, symbol: str, position: Position | None = None, now: datetime | None = None) -> dict | None:
    """The chart of one of the bot's symbols, with the levels of `position` (else of the bot's open
    position in the symbol, if any); None when the feed has no bars for it. Raises what the feed
    raises (BrokerError, Conflict) when it cannot answer."""
    params = bot.config().indicator_params()
    snapshot = market_snapshot(
        market=market_for(bot.broker_account),
        symbol=symbol,
        timeframe=bot.timeframe,
        limit=CHART_BARS,
        indicators=params,
        now=now or timezone.now(),
    )
    if snapshot is None:
        return None
    times = [int(bar["time"].timestamp()) for bar in snapshot.bars]
    candles = [
        {"time": t, **{k: float(bar[k]) for k in ("open", "high", "low", "close")}}
        for t, bar in zip(times, snapshot.bars, strict=True)
    ]
    return {
        "bot": bot.pk,
        "symbol": symbol,
        "timeframe": bot.timeframe,
        "candles": candles,
        "volume": [
            {"time": t, "value": float(bar["volume"]), "up": bar["close"] >= bar["open"]}
            for t, bar in zip(times, snapshot.bars, strict=True)
        ],
        "indicators": _indicators(snapshot.indicators, params, times),
        "markers": _markers(bot, symbol, times),
        "lines": position_lines(position) if position else _lines(bot, symbol),
    }


def _indicators(values: dict, params: dict, times: list[int]) -> list[dict]:
    """One entry per indicator: where it is drawn, its series (gaps where not computable yet) and the
    levels its pane marks."""
    drawn = []
    for name, outputs in values.items():
        place = "price" if name in PRICE_OVERLAYS else "volume" if name in VOLUME_OVERLAYS else "pane"
        threshold = THRESHOLDS.get(name)
        drawn.append(
            {
                "name": name,
                "label": _label(name, params[name]),
                "place": place,
                "thresholds": threshold(params[name]) if threshold else [],
                "series": [
                    {
                        "key": key,
                        "data": [{"time": t, "value": v} for t, v in zip(times, series, strict=True) if v is not None],
                    }
                    for key, series in outputs.items()
                    if (name, key) not in HIDDEN_SERIES
                ],
            }
        )
    return drawn


def _label(name: str, params) -> str:
    numbers = [f"{v:g}" for v in params.model_dump().values() if isinstance(v, int | float)]
    return f"{name} {','.join(numbers)}" if numbers else name


def _markers(bot: Bot, symbol: str, times: list[int]) -> list[dict]:
    """The bot's fills on the shown bars, each at the bar it filled in, with its side, shares, price
    and the reason the bot gave."""
    if not times:
        return []
    # A partly filled order that is still working shows the shares it has so far.
    fills = bot.trades.filter(
        Q(status=Trade.Status.FILLED) | Q(filled_quantity__gt=0),
        symbol=symbol,
        filled_at__gte=datetime.fromtimestamp(times[0], tz=UTC),
    ).order_by("filled_at", "id")
    return [
        {
            "id": fill["id"],
            "time": times[bisect_right(times, fill["filled_at"].timestamp()) - 1],
            "side": fill["type"],
            "quantity": fill["filled_quantity"] or fill["quantity"],
            "price": float(fill["price"]) if fill["price"] is not None else None,
            "reason": fill["reason"],
        }
        for fill in fills.values("id", "type", "quantity", "filled_quantity", "price", "filled_at", "reason")
    ]


def _lines(bot: Bot, symbol: str) -> list[dict]:
    position = bot.positions.filter(symbol=symbol, is_open=True).first()
    return position_lines(position) if position else []


def position_lines(position: Position) -> list[dict]:
    """Entry, stop-loss and take-profit of a position, the levels its exits are watched at."""
    levels = [
        ("entry", position.entry_price),
        ("stop", position.stop_loss_price),
        ("target", position.take_profit_price),
    ]
    return [{"kind": kind, "price": float(price)} for kind, price in levels if price is not None]
