"""The analytics page's figures: a trader's performance over a time range, by bot and by symbol, and
each bot's live results beside a backtest of its configuration over the same period.

The sums come from the database, one grouped query over the closed trades (per day, bot and symbol),
rolled up here; ratios reuse trades.selectors.trade_stats (the trades page's) and engine.stats. Both
are cached until the trades change (trades.selectors.cached_by_trades), so a request costs the same
few queries whatever the number of trades.
"""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from backtests.models import Backtest
from bots.models import Bot
from engine import stats
from engine.market_time import EXCHANGE_TZ, day_start, exchange_date
from positions.models import Position
from trades.models import Trade
from trades.selectors import TradeStats, cached_by_trades, trade_list, trade_stats

RANGES = {
    "1W": timedelta(weeks=1),
    "1M": timedelta(days=30),
    "3M": timedelta(days=91),
    "6M": timedelta(days=182),
    "1Y": timedelta(days=365),
    "ALL": None,
}
ZERO = Decimal(0)


def range_start(name: str, *, today: date) -> date | None:
    """The first New York day of a range ending today (both included); None for all time."""
    span = RANGES[name]
    return None if span is None else today - span + timedelta(days=1)


@dataclass(frozen=True)
class Breakdown:
    """A bot's or a symbol's closed round trips in the range."""

    key: str
    trades: int
    wins: int
    pnl: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    capital: Decimal | None = None
    bot_id: int | None = None

    @property
    def win_rate_pct(self) -> float | None:
        return 100.0 * self.wins / self.trades if self.trades else None

    @property
    def profit_factor(self) -> float | None:
        return float(self.gross_profit / -self.gross_loss) if self.gross_loss else None

    @property
    def return_pct(self) -> float | None:
        return float(100 * self.pnl / self.capital) if self.capital else None


@dataclass(frozen=True)
class History:
    """What the closed trades of a range add up to, per New York day (the cached part)."""

    days: list[date]
    daily_pnl: list[Decimal]
    by_bot: list[Breakdown]
    by_symbol: list[Breakdown]
    bot_days: dict[str, dict[date, Decimal]]
    symbol_days: dict[str, dict[date, Decimal]]
    average_hold: timedelta | None


@dataclass(frozen=True)
class Performance:
    start: date | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    capital: Decimal
    stats: TradeStats
    history: History
    by_bot: list[Breakdown] = field(default_factory=list)

    @property
    def total_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl

    @property
    def return_pct(self) -> float | None:
        """Total P&L on the capital allocated to the bots."""
        return float(100 * self.total_pnl / self.capital) if self.capital else None

    @property
    def sortino_ratio(self) -> float | None:
        """On the daily realized P&L, like the Sharpe ratio beside it (trades.selectors._sharpe)."""
        return stats.sortino_ratio(np.array([float(pnl) for pnl in self.history.daily_pnl], dtype=float))

    @property
    def max_drawdown_pct(self) -> float | None:
        """The deepest fall of realized P&L from its peak, on the allocated capital."""
        return float(100 * self.stats.max_drawdown / self.capital) if self.capital else None


def performance(*, user, range_name: str, today: date | None = None) -> Performance:
    """The user's performance over a range (RANGES) ending today."""
    start = range_start(range_name, today=today or exchange_date(timezone.now()))
    trades = trade_list(user=user, start=start)
    capitals = dict(Bot.objects.for_user(user).values_list("id", "capital"))
    history = cached_by_trades(trades, "analytics-history", _history)
    unrealized = Position.objects.for_user(user).open().aggregate(total=Sum("unrealized_pnl"))["total"] or ZERO
    by_bot = [replace(row, capital=capitals.get(row.bot_id)) for row in history.by_bot]
    return Performance(
        start=start,
        realized_pnl=sum((row.pnl for row in history.by_bot), ZERO),
        unrealized_pnl=unrealized,
        capital=sum(capitals.values(), ZERO),
        stats=trade_stats(trades),
        history=history,
        by_bot=by_bot,
    )


def _history(trades: QuerySet[Trade]) -> History:
    closed = trades.filter(type=Trade.Type.SELL, status=Trade.Status.FILLED, profit_loss__isnull=False)
    win, loss = Q(profit_loss__gt=0), Q(profit_loss__lt=0)
    rows = list(
        closed.annotate(day=TruncDate("filled_at", tzinfo=EXCHANGE_TZ))
        .values("day", "bot_id", "bot_name", "symbol")
        .annotate(
            pnl=Sum("profit_loss"),
            count=Count("id"),
            wins=Count("id", filter=win),
            gross_profit=Sum("profit_loss", filter=win),
            gross_loss=Sum("profit_loss", filter=loss),
        )
        .order_by("day")
    )
    daily: dict[date, Decimal] = defaultdict(Decimal)
    bot_days: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    symbol_days: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        pnl = _decimal(row["pnl"])
        daily[row["day"]] += pnl
        bot_days[_bot_key(row)][row["day"]] += pnl
        symbol_days[row["symbol"]][row["day"]] += pnl
    return History(
        days=list(daily),
        daily_pnl=list(daily.values()),
        by_bot=_breakdown(rows, _bot_key, with_bot=True),
        by_symbol=_breakdown(rows, lambda row: row["symbol"]),
        bot_days={key: dict(days) for key, days in bot_days.items()},
        symbol_days={key: dict(days) for key, days in symbol_days.items()},
        average_hold=_average_hold(closed),
    )


def daily_pnl(trades: QuerySet[Trade]) -> tuple[list[date], list[Decimal]]:
    """The realized P&L of some trades per New York day of the fill, cached until they change."""
    return cached_by_trades(trades, "daily-pnl", _daily_pnl)


def _daily_pnl(trades: QuerySet[Trade]) -> tuple[list[date], list[Decimal]]:
    closed = trades.filter(type=Trade.Type.SELL, status=Trade.Status.FILLED, profit_loss__isnull=False)
    rows = (
        closed.annotate(day=TruncDate("filled_at", tzinfo=EXCHANGE_TZ))
        .values("day")
        .annotate(pnl=Sum("profit_loss"))
        .order_by("day")
        .values_list("day", "pnl")
    )
    days, pnls = [], []
    for day, pnl in rows:
        days.append(day)
        pnls.append(_decimal(pnl))
    return days, pnls


def _bot_key(row: dict) -> str:
    return row["bot_name"]


def _breakdown(rows: list[dict], key, *, with_bot: bool = False) -> list[Breakdown]:
    """Rows summed per key, the largest P&L first; `with_bot` keeps each key's bot id (a bot's rows)."""
    totals: dict[str, dict] = {}
    for row in rows:
        total = totals.setdefault(
            key(row),
            {"trades": 0, "wins": 0, "pnl": ZERO, "gross_profit": ZERO, "gross_loss": ZERO,
             "bot_id": row["bot_id"] if with_bot else None},
        )  # fmt: skip
        total["trades"] += row["count"]
        total["wins"] += row["wins"]
        for name in ("pnl", "gross_profit", "gross_loss"):
            total[name] += _decimal(row[name])
    rows_out = [Breakdown(key=name, **figures) for name, figures in totals.items()]
    return sorted(rows_out, key=lambda row: row.pnl, reverse=True)


def _average_hold(closed: QuerySet[Trade]) -> timedelta | None:
    """How long a closed round trip stayed open: from its position's opening to the sell's fill."""
    held = ExpressionWrapper(F("filled_at") - F("position__opened_at"), output_field=DurationField())
    return closed.filter(position__isnull=False).aggregate(average=Avg(held))["average"]


def _decimal(value) -> Decimal:
    # SQLite sums decimals as floats; PostgreSQL as exact numerics.
    return ZERO if value is None else Decimal(str(value))


def epoch_day(day: date) -> int:
    """A New York day as a chart's time: its midnight there, in epoch seconds."""
    return int(day_start(day).timestamp())


def cumulative(days: list[date], values: dict[date, Decimal]) -> list[Decimal]:
    """Running total of `values` on each of `days` (a day without a value carries the total on)."""
    running, out = ZERO, []
    for day in days:
        running += values.get(day, ZERO)
        out.append(running)
    return out


# ---- live beside its backtest -------------------------------------------------------------------

MAX_DIFFERENCES = 20


@dataclass(frozen=True)
class Drift:
    """A bot's live results over a period beside a backtest of its configuration over the same days."""

    bot: Bot
    start: date
    end: date
    live: Breakdown | None
    backtest: Backtest | None
    live_only: list[dict] = field(default_factory=list)
    backtest_only: list[dict] = field(default_factory=list)

    @property
    def backtest_pnl(self) -> Decimal | None:
        if self.backtest is None or self.backtest.status != Backtest.Status.DONE:
            return None
        return Decimal(str(self.backtest.stats["final_equity"])) - self.backtest.capital

    @property
    def pnl_drift(self) -> Decimal | None:
        if self.backtest_pnl is None:
            return None
        return (self.live.pnl if self.live else ZERO) - self.backtest_pnl


def drift(*, user, performance: Performance, today: date | None = None) -> list[Drift]:
    """Per bot, its live results beside its latest backtest over the same days, and the fills one has
    and the other has not (matched on symbol, side and the bar decided on). A query for the bots and
    one for their backtests; with finished backtests, the comparison, cached until the trades change."""
    end = today or exchange_date(timezone.now())
    bots = list(Bot.objects.for_user(user).order_by("name", "id"))
    live = {row.bot_id: row for row in performance.by_bot}
    start = performance.start or min(performance.history.days, default=end)
    backtests = {}
    for backtest in (
        Backtest.objects.filter(bot__in=bots, start=start, end=end).summaries().order_by("created_at", "id")
    ):
        backtests[backtest.bot_id] = backtest  # the latest wins
    done = {bot_id: run for bot_id, run in backtests.items() if run.status == Backtest.Status.DONE}
    differences = _differences(done, start, end) if done else {}
    return [
        Drift(
            bot=bot,
            start=start,
            end=end,
            live=live.get(bot.pk),
            backtest=backtests.get(bot.pk),
            live_only=differences.get(bot.pk, ([], []))[0],
            backtest_only=differences.get(bot.pk, ([], []))[1],
        )
        for bot in bots
    ]


def _differences(done: dict[int, Backtest], start: date, end: date) -> dict[int, tuple[list, list]]:
    """Per bot: (live fills the backtest did not make, backtest fills the bot did not make), the first
    MAX_DIFFERENCES of each. Backtests never change once done: their ids and the trades key the cache."""
    period = (day_start(start), day_start(end + timedelta(days=1)))
    fills = Trade.objects.filter(bot__in=list(done), status=Trade.Status.FILLED, bar_time__range=period)
    name = "analytics-drift-" + "-".join(str(run.pk) for run in done.values())
    return cached_by_trades(fills, name, lambda trades: _compare(trades, done, period))


def _compare(fills: QuerySet[Trade], done: dict[int, Backtest], period: tuple) -> dict[int, tuple[list, list]]:
    live = defaultdict(dict)
    for fill in fills.order_by("bar_time", "id").values(
        "bot_id", "symbol", "type", "quantity", "price", "bar_time", "reason"
    ):
        live[fill["bot_id"]][(fill["symbol"], fill["type"], fill["bar_time"])] = fill
    tested_trades = dict(
        Backtest.objects.filter(pk__in=[run.pk for run in done.values()]).values_list("bot_id", "trades")
    )
    out = {}
    for bot_id, trades in tested_trades.items():
        tested = {}
        for trade in trades:
            bar_time = datetime.fromisoformat(trade["bar_time"])
            if period[0] <= bar_time < period[1]:
                tested[(trade["symbol"], trade["side"], bar_time)] = trade
        ours = live[bot_id]
        out[bot_id] = (
            [_fill(f["symbol"], f["type"], key[2], f["quantity"], f["price"], f["reason"])
             for key, f in ours.items() if key not in tested][:MAX_DIFFERENCES],
            [_fill(t["symbol"], t["side"], key[2], t["quantity"], t["price"], t["reason"])
             for key, t in tested.items() if key not in ours][:MAX_DIFFERENCES],
        )  # fmt: skip
    return out


def _fill(symbol, side, bar_time, quantity, price, reason) -> dict:
    return {"symbol": symbol, "side": side, "bar_time": bar_time, "quantity": quantity,
            "price": None if price is None else Decimal(str(price)), "reason": reason}  # fmt: skip
