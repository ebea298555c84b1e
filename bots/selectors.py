"""Reads for bots, broker accounts, the dashboard's summary and a symbol's chart (the API and the HTML
pages share these)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bots.models import BookMismatch, Bot, BotHold, BrokerAccount
from engine.market_time import trading_day_start
from positions.models import Position
from trades.models import Trade
from trades.selectors import trade_stats

ZERO = Decimal(0)


def bot_list(*, user):
    return with_open_holds(Bot.objects.for_user(user).order_by("name", "id"))


def with_open_holds(bots: QuerySet) -> QuerySet:
    """Bots with their holds still in force as `open_holds`, in one more query whatever their number."""
    return bots.prefetch_related(
        Prefetch("holds", queryset=BotHold.objects.filter(released_at__isnull=True), to_attr="open_holds")
    )


def bots_with_stats(bots: QuerySet, *, now: datetime | None = None) -> QuerySet:
    """Bots annotated with open positions, their value and today's P&L, in one query (no N+1).

    "Today" is the exchange's calendar day, and P&L today counts realized gains of today plus the
    open positions' unrealized P&L: the figure the daily loss limit watches.
    """
    money = DecimalField(max_digits=20, decimal_places=6)
    zero = Value(Decimal(0), output_field=money)

    def per_bot(rows: QuerySet, total) -> Subquery:
        return Coalesce(Subquery(rows.values("bot").annotate(total=total).values("total"), output_field=money), zero)

    open_positions = Position.objects.filter(bot=OuterRef("pk"), is_open=True)
    sells_today = Trade.objects.filter(
        bot=OuterRef("pk"),
        type=Trade.Type.SELL,
        status=Trade.Status.FILLED,
        filled_at__gte=trading_day_start(now or timezone.now()),
    )
    return bots.annotate(
        open_positions=Coalesce(Subquery(open_positions.values("bot").annotate(n=Count("id")).values("n")), 0),
        open_value=per_bot(open_positions, Sum(F("current_price") * F("quantity"), output_field=money)),
        unrealized_pnl=per_bot(open_positions, Sum("unrealized_pnl")),
        realized_pnl_today=per_bot(sells_today, Sum("profit_loss")),
        pnl_today=F("realized_pnl_today") + F("unrealized_pnl"),
    )


def broker_account_list(*, user):
    accounts = BrokerAccount.objects.order_by("name", "id")
    return accounts if user.is_superuser else accounts.filter(owner=user)


@dataclass(frozen=True)
class Summary:
    """The dashboard's numbers. "Today" is the exchange's calendar day (America/New_York), the same
    day the risk rules' daily limits count."""

    bots_by_status: dict[str, int]
    bots_total: int
    open_positions: int
    open_positions_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl_today: Decimal
    realized_pnl_total: Decimal
    total_pnl: Decimal
    trades_today: int
    win_rate_pct: float | None


# Market orders fill within seconds; a trade filled today was placed in the last few days. Bounding
# the placement time lets "today" use the (owner, timestamp) index instead of reading every trade.
FILL_DELAY_BOUND = timedelta(days=7)


def summary(*, user, now: datetime | None = None) -> Summary:
    """A handful of queries whatever the number of bots, positions and trades: the all-time figures
    come from trade_stats(), cached until the user's trades change."""
    today = trading_day_start(now or timezone.now())
    counts = dict(Bot.objects.for_user(user).order_by().values_list("status").annotate(n=Count("id")))
    by_status = {status: counts.get(status, 0) for status in Bot.Status.values}

    money = DecimalField(max_digits=24, decimal_places=6)
    positions = (
        Position.objects.for_user(user)
        .open()
        .aggregate(
            count=Count("id"),
            value=Sum(F("current_price") * F("quantity"), output_field=money),
            unrealized=Sum("unrealized_pnl"),
        )
    )
    all_time = trade_stats(Trade.objects.for_user(user))
    filled_today = Trade.objects.for_user(user).filter(
        status=Trade.Status.FILLED, timestamp__gte=today - FILL_DELAY_BOUND, filled_at__gte=today
    )
    today_row = filled_today.aggregate(count=Count("id"), realized=Sum("profit_loss", filter=Q(type=Trade.Type.SELL)))
    unrealized = positions["unrealized"] or ZERO
    return Summary(
        bots_by_status=by_status,
        bots_total=sum(by_status.values()),
        open_positions=positions["count"],
        open_positions_value=positions["value"] or ZERO,
        unrealized_pnl=unrealized,
        realized_pnl_today=today_row["realized"] or ZERO,
        realized_pnl_total=all_time.total_pnl,
        total_pnl=all_time.total_pnl + unrealized,
        trades_today=today_row["count"],
        win_rate_pct=all_time.win_rate_pct,
    )


def mismatches_open(*, user, bot: Bot | None = None) -> QuerySet:
    """Open mismatches of the user's broker accounts; for a bot, those of its account on its symbols
    or holdings."""
    mismatches = BookMismatch.objects.filter(
        resolved_at__isnull=True, account__in=broker_account_list(user=user)
    ).select_related("account")
    if bot is None:
        return mismatches
    held = bot.positions.filter(is_open=True).values_list("symbol", flat=True)
    return mismatches.filter(account=bot.broker_account_id, symbol__in=[*bot.symbols, *held])
