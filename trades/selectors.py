"""Reads of trades: the filtered list, its statistics and its CSV export (the API and the HTML pages
share these, so a number on the dashboard and in the API is the same number)."""

import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from engine import stats
from engine.market_time import EXCHANGE_TZ, day_span
from trades.models import Trade

logger = logging.getLogger(__name__)

# Staleness is impossible by construction (see trade_stats); the expiry only bounds what the cache holds.
STATS_CACHE_SECONDS = 3600
CENT = Decimal("0.000001")  # the precision of the money columns
ORDERINGS = (
    "timestamp", "-timestamp", "filled_at", "-filled_at", "symbol", "-symbol",
    "profit_loss", "-profit_loss", "price", "-price", "quantity", "-quantity",
)  # fmt: skip


def _instant(moment: date | datetime, *, day_end: bool = False) -> datetime:
    """A datetime as it is (naive means UTC); a date is a New York trading day: its start, or with
    `day_end` the start of the day after."""
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return day_span(moment, moment)[1 if day_end else 0]


def trade_list(
    *,
    user,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    bot_id: int | None = None,
    symbol: str | None = None,
    type: str | None = None,
    status: str | None = None,
    ordering: str = "-timestamp",
) -> QuerySet[Trade]:
    """The user's trades (everyone's for a superuser) placed between start and end, both inclusive.
    A date means that whole New York trading day (the day rule of every page, the API and the
    export); a naive datetime is taken as UTC."""
    if ordering not in ORDERINGS:
        raise ValueError(f"unknown ordering {ordering!r}")
    trades = Trade.objects.for_user(user)
    if start is not None:
        trades = trades.filter(timestamp__gte=_instant(start))
    if end is not None:
        if isinstance(end, datetime):
            trades = trades.filter(timestamp__lte=_instant(end))
        else:
            trades = trades.filter(timestamp__lt=_instant(end, day_end=True))
    if bot_id is not None:
        trades = trades.filter(bot_id=bot_id)
    if symbol:
        trades = trades.filter(symbol=symbol.upper())
    if type:
        trades = trades.filter(type=type)
    if status:
        trades = trades.filter(status=status)
    # The id breaks ties, so pages never repeat or skip a trade.
    return trades.order_by(ordering, "-id" if ordering.startswith("-") else "id")


@dataclass(frozen=True)
class TradeStats:
    """Statistics of the round trips among some trades: the filled sells, which carry the realized P&L
    (net of both commissions). Ratios are None where undefined, as in the backtester (engine.stats)."""

    count: int
    wins: int
    losses: int
    win_rate_pct: float | None
    total_pnl: Decimal
    average_pnl: Decimal | None
    average_win: Decimal | None
    average_loss: Decimal | None
    profit_factor: float | None
    expectancy: Decimal | None
    largest_win: Decimal | None
    largest_loss: Decimal | None
    max_drawdown: Decimal
    sharpe_ratio: float | None


def _money(value) -> Decimal | None:
    # SQLite hands back floats for sums of decimals; PostgreSQL exact numerics. Both leave as 6-place Decimals.
    return None if value is None else Decimal(str(value)).quantize(CENT)


def _ratio(numerator, denominator) -> Decimal | None:
    return _money(numerator / denominator) if denominator else None


def trade_stats(trades: QuerySet[Trade]) -> TradeStats:
    """Statistics of the filtered trades, computed in the database (three queries: an aggregate, the
    daily sums, the drawdown window) and cached until those trades change (cached_by_trades)."""
    return cached_by_trades(trades, "trade-stats", _stats)


def cached_by_trades[T](trades: QuerySet[Trade], name: str, compute: Callable[[QuerySet[Trade]], T]) -> T:
    """compute(trades), cached until those trades change.

    A pass over every closed trade costs ~150 ms per 50,000 of them on PostgreSQL; finding out whether
    anything changed costs two counts (~10 ms, index-only). Exact, because trades are append-only and
    a trade only ever leaves "pending": the closed trades among a filtered set can change only if a
    trade is added to the set or taken out of it (a bot deleted, for a bot_id filter), which changes
    its count, or a pending one settles, which changes the pending count. A cache that is down costs
    speed, never correctness."""
    trades = trades.order_by()
    try:
        sql, params = trades.query.sql_with_params()
    except EmptyResultSet:  # .none(): nothing to count, nothing worth caching
        return compute(trades)
    fingerprint = (name, sql, params, trades.count(), trades.pending().count())
    key = f"tradebot:{name}:" + hashlib.sha256(repr(fingerprint).encode()).hexdigest()
    try:
        cached = cache.get(key)
    except Exception:
        logger.warning("cache unavailable: computing %s afresh", name, exc_info=True)
        cached = None
    if cached is not None:
        return cached
    computed = compute(trades)
    try:
        cache.set(key, computed, timeout=STATS_CACHE_SECONDS)
    except Exception:
        logger.warning("cache unavailable: %s not cached", name, exc_info=True)
    return computed


def _stats(trades: QuerySet[Trade]) -> TradeStats:
    closed = trades.filter(type=Trade.Type.SELL, status=Trade.Status.FILLED, profit_loss__isnull=False)
    win, loss = Q(profit_loss__gt=0), Q(profit_loss__lt=0)
    row = closed.aggregate(
        count=Count("id"),
        wins=Count("id", filter=win),
        losses=Count("id", filter=loss),
        total=Sum("profit_loss"),
        gross_profit=Sum("profit_loss", filter=win),
        gross_loss=Sum("profit_loss", filter=loss),
        largest_win=Max("profit_loss", filter=win),
        largest_loss=Min("profit_loss", filter=loss),
    )
    count, wins, losses = row["count"], row["wins"], row["losses"]
    total, gross_profit, gross_loss = (_money(row[key] or 0) for key in ("total", "gross_profit", "gross_loss"))
    average_win, average_loss = _ratio(gross_profit, wins), _ratio(gross_loss, losses)
    return TradeStats(
        count=count,
        wins=wins,
        losses=losses,
        win_rate_pct=100.0 * wins / count if count else None,
        total_pnl=total,
        average_pnl=_ratio(total, count),
        average_win=average_win,
        average_loss=average_loss,
        profit_factor=float(gross_profit / -gross_loss) if gross_loss else None,
        # P(win) × average win + P(loss) × average loss: what a trade is worth on average, which is
        # (gross profit + gross loss) / count, the average P&L (break-even trades count, at 0).
        expectancy=_ratio(gross_profit + gross_loss, count),
        largest_win=_money(row["largest_win"]),
        largest_loss=_money(row["largest_loss"]),
        max_drawdown=_max_drawdown(closed),
        sharpe_ratio=_sharpe(closed),
    )


def _sharpe(closed: QuerySet[Trade]) -> float | None:
    """Sharpe ratio of the daily realized P&L: mean / sample standard deviation × √252 (risk-free rate 0),
    over the exchange days (New York) with at least one closed trade. The database sums each day;
    the engine's formula (the backtester's) takes it from there."""
    days = (
        closed.annotate(day=TruncDate("filled_at", tzinfo=EXCHANGE_TZ)).values("day").annotate(pnl=Sum("profit_loss"))
    )
    daily = np.array([float(pnl) for pnl in days.values_list("pnl", flat=True)], dtype=float)
    return stats.sharpe_ratio(daily)


def _max_drawdown(closed: QuerySet[Trade]) -> Decimal:
    """The deepest fall of cumulative realized P&L (in fill order) from its running peak, starting from 0.

    Raw SQL because it needs a window over a window (the running peak of a running sum), which the
    ORM cannot nest; the filtered trades still come from the ORM. The equity starts at 0, so a first
    losing streak counts: the answer is max(peak − equity, −lowest equity, 0)."""
    inner, params = closed.values("id", "filled_at", "profit_loss").query.sql_with_params()
    sql = f"""
        SELECT MAX(peak - equity), MIN(equity) FROM (
            SELECT equity, MAX(equity) OVER (ORDER BY filled_at, id ROWS UNBOUNDED PRECEDING) AS peak FROM (
                SELECT id, filled_at,
                       SUM(profit_loss) OVER (ORDER BY filled_at, id ROWS UNBOUNDED PRECEDING) AS equity
                FROM ({inner}) AS closed
            ) AS curve
        ) AS drawdowns
    """  # noqa: S608 - the inner query is the ORM's, with its parameters passed separately
    with connections[closed.db].cursor() as cursor:
        cursor.execute(sql, params)
        worst, lowest = cursor.fetchone()
    return max(_money(worst or 0), -_money(lowest or 0), _money(0))


EXPORT_COLUMNS = (
    "id", "timestamp", "filled_at", "bot_id", "bot_name", "symbol", "type", "quantity", "price",
    "commission", "slippage", "profit_loss", "status", "client_order_id", "order_id", "reason",
)  # fmt: skip
# A cell starting with one of these is a formula to a spreadsheet: a bot named "=HYPERLINK(...)" must stay text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return str(value)


def trade_csv(trades: QuerySet[Trade], *, rows_per_chunk: int = 2000) -> Iterator[str]:
    """The trades as CSV text, a chunk of rows at a time: the database cursor streams them
    (.iterator), so an export of 100,000 trades never sits in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    rows = trades.values_list(*EXPORT_COLUMNS).iterator(chunk_size=rows_per_chunk)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_cell(value) for value in row])
        if n % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if rest := buffer.getvalue():
        yield rest
