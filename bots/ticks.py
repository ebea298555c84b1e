"""One tick of one bot: claim it, check its window and the market, repair pending orders, manage exits,
then entries, and record what was decided and why.

The decisions come from the pure engine (signals.evaluate, strategy.decide): the backtester calls the
same functions, so a backtest tells the truth about what this tick does.
"""

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.db.models import Count, Q, Sum
from django.utils import timezone
from pydantic import ValidationError

from bots import notices, services
from bots.connections import bar_age_clock, broker_for, market_for, market_status_for
from bots.holds import holds_open
from bots.models import Bot, BrokerAccount, TickLog
from bots.orders import order_send, orders_repair
from brokers.base import BrokerAuthRefused, BrokerError, BrokerUnavailable
from engine.config import BotConfig, config_errors
from engine.indicators import REGISTRY
from engine.market_time import EXCHANGE_TZ, trading_day_start
from engine.risk import Account, Holding, daily_halt, to_price
from engine.signals import Signal
from engine.strategy import BarView, Decision, decide, decide_on_price, in_window
from market.bar_checks import bars_problem, stale_reason
from market.cache import day_open_price, latest_signal, recent_bars, report_feed_problem
from positions.models import Position
from positions.services import commission_share
from tradebot import metrics
from tradebot.circuits import circuit_blocks, circuit_failure, circuit_success
from tradebot.errors import BrokerAccountUnusable, Conflict
from tradebot.events import publish
from trades.models import Trade
from trades.services import client_order_id

logger = logging.getLogger(__name__)
log = structlog.get_logger(__name__)

# Long enough for a slow broker; a worker that dies mid-tick frees the bot when it runs out.
CLAIM_LEASE = timedelta(minutes=2)
MAX_CONSECUTIVE_FAILURES = 3
MIN_LOOKBACK = 300


@dataclass
class TickReport:
    bot_id: int
    outcome: str  # traded | idle | skipped | held | failed
    message: str = ""
    decisions: list[dict] = field(default_factory=list)
    orders: int = 0  # sent to the broker
    refusals: int = 0  # refused by the broker, the order path or a hold

    def lines(self) -> list[str]:
        head = f"bot {self.bot_id}: {self.outcome}" + (f" ({self.message})" if self.message else "")
        return [head] + [
            f"  {d['symbol']}: {d['action']} {d.get('quantity') or ''} {d['reason']}" for d in self.decisions
        ]


def bot_tick(*, bot_id: int, force: bool = False, now: datetime | None = None) -> TickReport:
    """Run one tick. `force` ignores the trading window and market hours, never the risk rules."""
    with structlog.contextvars.bound_contextvars(bot_id=bot_id):
        return _tick(bot_id, force=force, now=now or timezone.now())


def _tick(bot_id: int, *, force: bool, now: datetime) -> TickReport:
    started = time.perf_counter()
    lease = _claim(bot_id, now)
    if lease is None:
        return _skipped_while_claimed(bot_id, now, started)
    try:
        bot = Bot.objects.select_related("broker_account", "owner").get(pk=bot_id)
        report = _run(bot, force=force, now=now)
    except Bot.DoesNotExist:
        return TickReport(bot_id, "skipped", "no such bot")
    finally:
        # Free the bot only if the claim is still ours: a tick that outlived its lease must not free the
        # claim of the tick that took over, or a third would run alongside it.
        Bot.objects.filter(pk=bot_id, tick_claimed_until=lease).update(tick_claimed_until=None)
        Bot.objects.filter(pk=bot_id).update(last_tick_at=now)
    _log(bot, now, started, report)
    # Pages show the last tick and the tick record: tell them this one is done.
    publish("tick_recorded", {"bot_id": bot.pk, "outcome": report.outcome, "last_tick_at": now}, user_id=bot.owner_id)
    return report


def _skipped_while_claimed(bot_id: int, now: datetime, started: float) -> TickReport:
    """Another tick holds the bot: it is running, or its worker died and its lease has not run out.
    Either way the skip is recorded, with when the bot is free again, so it is never silent."""
    bot = Bot.objects.filter(pk=bot_id).first()
    if bot is None:
        return TickReport(bot_id, "skipped", "no such bot")
    until = bot.tick_claimed_until.astimezone(EXCHANGE_TZ) if bot.tick_claimed_until else None
    report = TickReport(
        bot_id, "skipped", f"another tick of this bot holds it{f' until {until:%H:%M:%S %Z}' if until else ''}"
    )
    _log(bot, now, started, report)
    return report


def _claim(bot_id: int, now: datetime) -> datetime | None:
    """Two ticks of one bot never run at once: the first to move the lease forward wins (and gets the
    lease's end, its token for releasing it), the other gets None and returns."""
    free = Q(tick_claimed_until__isnull=True) | Q(tick_claimed_until__lt=now)
    lease = now + CLAIM_LEASE
    return lease if Bot.objects.filter(free, pk=bot_id).update(tick_claimed_until=lease) == 1 else None


def _run(bot: Bot, *, force: bool, now: datetime) -> TickReport:
    if bot.status not in (Bot.Status.RUNNING, Bot.Status.PAUSED):
        return TickReport(bot.pk, "skipped", f"the bot is {bot.status}")
    try:
        config = bot.config()
    except ValidationError as exc:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in config_errors(exc))
        services.bot_fail(bot=bot, message=f"configuration no longer validates: {problems}")
        return TickReport(bot.pk, "failed", bot.status_reason)
    account = bot.broker_account
    circuits: list[str] = []
    try:
        market = market_for(account)
        broker = broker_for(account, market, now=now)
        circuits = [name for name in (getattr(broker, "circuit", ""), getattr(market, "circuit", "")) if name]
        for name in circuits:
            if down := circuit_blocks(name, now=now):
                notices.broker_down(bot=bot, circuit=name, now=now)
                return TickReport(bot.pk, "held", f"the broker or its feed is {down}: entries held until it answers")
        if not force:
            status = market_status_for(account, now)
            if not status.is_open:
                return TickReport(
                    bot.pk,
                    "skipped",
                    f"market closed until {status.next_open.astimezone(EXCHANGE_TZ):%Y-%m-%d %H:%M %Z}",
                )
            if not in_window(now, config.window_start, config.window_end):
                return TickReport(
                    bot.pk, "skipped", f"outside the window {config.window_start:%H:%M}-{config.window_end:%H:%M} ET"
                )
        pending = [
            trade for trade in orders_repair(bot=bot, broker=broker, now=now) if trade.status == Trade.Status.PENDING
        ]
        report = _trade(bot, config, market, broker, now, pending)
    except BrokerAccountUnusable as exc:
        # The owner must fix the account (keys, URL); failing tick after tick until `error` would fix
        # nothing. The bot holds and resumes by itself once the account is usable again.
        unmanaged = (
            "; its open positions cannot be managed until then" if bot.positions.filter(is_open=True).exists() else ""
        )
        return TickReport(bot.pk, "held", f"{exc}. Entries held{unmanaged}")
    except BrokerAuthRefused as exc:
        services.bot_fail(bot=bot, message=f"{exc}: enter the account's keys again, then start the bot")
        return TickReport(bot.pk, "failed", bot.status_reason)
    except BrokerUnavailable as exc:
        # An outage, not this bot's fault: every bot behind the endpoint holds (its circuit opens after a
        # few failures) and resumes by itself when it answers again. Never `error` for that.
        if exc.circuit:
            circuit_failure(exc.circuit, str(exc), now=now)
        return TickReport(bot.pk, "held", f"{exc}: entries held, retried with back-off")
    except BrokerError as exc:
        return _failed(bot, f"broker: {exc}")
    except Exception as exc:  # a feed or data fault: counted like a broker failure, never a silent stop
        logger.exception("tick of bot %s failed", bot.pk)
        return _failed(bot, f"{type(exc).__name__}: {exc}")
    if bot.consecutive_failures:
        Bot.objects.filter(pk=bot.pk).update(consecutive_failures=0)
    resumed = [down for name in circuits if (down := circuit_success(name, now=now))]
    if resumed:
        report.message = f"resumed: the broker and its feed answer again after {max(resumed)}; " + report.message
    return report


def _failed(bot: Bot, message: str) -> TickReport:
    failures = bot.consecutive_failures + 1
    Bot.objects.filter(pk=bot.pk).update(consecutive_failures=failures)
    # bot_fail saves this instance: it must carry the count its message gives.
    bot.consecutive_failures = failures
    if failures >= MAX_CONSECUTIVE_FAILURES:
        services.bot_fail(bot=bot, message=f"{failures} ticks failed in a row; last: {message}")
    return TickReport(bot.pk, "failed", message)


@dataclass
class _SymbolView:
    """What a symbol is decided on: its last closed bar and signal, or (`problem` set: the bars cannot
    be trusted) only the latest trade price, which can still trigger a held position's stop or target."""

    symbol: str
    bar: BarView
    signal: Signal | None = None
    problem: str = ""


def _trade(bot: Bot, config: BotConfig, market, broker, now: datetime, pending: list[Trade]) -> TickReport:
    rules = config.risk_management.rules()
    params = config.indicator_params()
    lookback = max(MIN_LOOKBACK, *(REGISTRY[name].warmup(p) for name, p in params.items()))
    positions = {p.symbol: p for p in Position.objects.filter(bot=bot, is_open=True)}
    busy = {trade.symbol for trade in pending}
    # A symbol taken off the bot's list while held is still managed (stop, target, sell signal) until sold.
    symbols = config.symbols + [symbol for symbol in positions if symbol not in config.symbols]

    views: list[_SymbolView] = []
    decisions: list[Decision] = []
    for symbol in symbols:
        bars = recent_bars(market, symbol, config.timeframe, now=now, limit=lookback)
        if problem := _bars_problem(bot, config, bars, now):
            report_feed_problem(market, symbol, problem)
            if view := _price_view(market, symbol, now, problem, held=symbol in positions):
                views.append(view)
            else:
                decisions.append(Decision(symbol, "skip", 0, f"{problem}; nothing decided", Decimal(0)))
            continue
        signal = latest_signal(market, symbol, config.timeframe, bars, params, config.signal_mode, now=now)
        if not signal.ready and len(bars) < lookback:
            short = f"short bars: the feed has {len(bars)} of the {lookback} asked for, too few for the indicators"
            report_feed_problem(market, symbol, short)
        last = bars.iloc[-1]
        bar = BarView(
            bars.index[-1].to_pydatetime(), to_price(last["low"]), to_price(last["high"]), to_price(last["close"])
        )
        views.append(_SymbolView(symbol, bar, signal))

    day_values = _day_values(market, config.timeframe, positions, now)
    account = _account(bot, config, positions, {v.symbol: v.bar.close for v in views}, day_values, now, pending)
    may_enter = bot.status == Bot.Status.RUNNING
    if may_enter and (halt := daily_halt(rules, account)):
        try:
            services.bot_pause(bot=bot, reason=halt, until_reset=True)
        except Conflict:
            return TickReport(bot.pk, "skipped", f"the bot was {bot.status} during the tick")
        may_enter = False

    traded = False
    orders = refusals = 0
    holds = holds_open(bot)
    for view in views:
        if view.symbol in busy:
            decisions.append(
                Decision(view.symbol, "skip", 0, "an order for this symbol is still pending", view.bar.close)
            )
            continue
        position = positions.get(view.symbol)
        if view.problem:
            decision = decide_on_price(
                symbol=view.symbol, price=view.bar.close, holding=_holding(position), why=view.problem
            )
        else:
            decision = decide(
                symbol=view.symbol,
                bar=view.bar,
                signal=view.signal,
                holding=_holding(position),
                rules=rules,
                account=account,
                may_enter=may_enter,
            )
        decisions.append(decision)
        if not decision.is_order:
            continue
        if hold := holds.get((view.symbol, decision.action)):
            decisions[-1] = replace(decision, action="skip", reason=f"{hold.explanation} ({decision.reason})")
            refusals += 1
            continue
        try:
            trade = order_send(
                bot=bot,
                broker=broker,
                symbol=view.symbol,
                side=decision.action,
                quantity=decision.quantity,
                client_order_id=client_order_id(
                    bot_id=bot.pk, symbol=view.symbol, side=decision.action, bar_time=view.bar.time
                ),
                bar_time=view.bar.time,
                reason=decision.reason,
                snapshot=decision.snapshot,
            )
        except Conflict as exc:
            # Another order got there first (a manual close, a tick that outlived its lease): nothing sent.
            decisions[-1] = replace(decision, action="skip", reason=f"order refused: {exc} ({decision.reason})")
            refusals += 1
            continue
        if trade is None:
            decisions[-1] = replace(decision, action="skip", reason=f"already ordered on this bar ({decision.reason})")
            continue
        orders += 1
        refusals += trade.status == Trade.Status.FAILED
        traded = traded or trade.status == Trade.Status.FILLED
        account = _after(account, trade, position, view.bar.close, day_values.get(view.symbol))
    payload = [_decision_payload(d) for d in decisions]
    return TickReport(bot.pk, "traded" if traded else "idle", "", payload, orders=orders, refusals=refusals)


def _bars_problem(bot: Bot, config: BotConfig, bars, now: datetime) -> str | None:
    """Why these bars cannot be decided on, if they cannot. A real broker's orders are sized on its
    feed's last bar, so an old one is refused too; the simulated broker's bars are made up to the
    minute, or recorded history replayed on purpose."""
    if problem := bars_problem(bars):
        return problem
    if bot.broker_account.kind == BrokerAccount.Kind.SIM:
        return None
    return stale_reason(bars.index[-1].to_pydatetime(), config.timeframe, now, source=bar_age_clock(now))


def _price_view(market, symbol: str, now: datetime, problem: str, *, held: bool) -> _SymbolView | None:
    """For a held symbol whose bars cannot be trusted: its latest trade price, to check the stop and
    target on. None when nothing is held, or when the feed has no price either."""
    if not held:
        return None
    try:
        price = to_price(market.latest_price(symbol, at=now))
    except Exception as exc:  # a feed that fails both ways: the position cannot be managed this tick
        logger.warning("no latest price for %s either: %s", symbol, exc)
        return None
    minute = now.replace(second=0, microsecond=0)
    return _SymbolView(symbol, BarView(minute, price, price, price), problem=problem)


def _holding(position: Position | None) -> Holding | None:
    if position is None:
        return None
    return Holding(
        position.symbol, position.quantity, position.entry_price, position.stop_loss_price, position.take_profit_price
    )


def _day_values(market, timeframe: str, positions: dict[str, Position], now: datetime) -> dict[str, Decimal]:
    """What each open position was worth at today's open, which max_daily_loss counts today's change
    from: its cost if bought today, else its quantity at the open of the symbol's first bar of today
    (its last mark until that bar has closed), as the backtest counts it."""
    today = trading_day_start(now)
    values = {}
    for symbol, position in positions.items():
        if position.opened_at >= today:
            values[symbol] = position.entry_price * position.quantity + position.entry_commission
            continue
        try:
            opened = day_open_price(market, symbol, timeframe, now=now)
        except Exception as exc:  # the feed's fault is the bars' to report: mark from the last price meanwhile
            logger.warning("no open of today for %s: %s", symbol, exc)
            opened = None
        values[symbol] = position.quantity * (opened if opened is not None else position.current_price)
    return values


def _account(
    bot: Bot,
    config: BotConfig,
    positions: dict[str, Position],
    marks: dict[str, Decimal],
    day_values: dict[str, Decimal],
    now: datetime,
    pending: list[Trade],
) -> Account:
    """The bot's money from the database. A buy still pending at the broker holds its cash and its
    position slot (estimated at its decision price), so no later order can spend them twice."""
    today = trading_day_start(now)
    filled_sells = Q(type=Trade.Type.SELL, status=Trade.Status.FILLED)
    entries_today = Q(type=Trade.Type.BUY, timestamp__gte=today) & ~Q(
        status__in=[Trade.Status.FAILED, Trade.Status.CANCELLED]
    )
    totals = Trade.objects.filter(bot=bot).aggregate(
        realized=Sum("profit_loss", filter=filled_sells),
        realized_today=Sum("profit_loss", filter=filled_sells & Q(filled_at__gte=today)),
        entries=Count("id", filter=entries_today),
    )
    change_today = sum(
        (marks.get(s, p.current_price) * p.quantity - day_values[s] for s, p in positions.items()), Decimal(0)
    )
    pending_buys = [t for t in pending if t.type == Trade.Type.BUY]
    # A partly filled buy already holds its position (counted above): only the rest is still reserved.
    reserved = sum((_decision_price(t) * (t.quantity - t.filled_quantity) for t in pending_buys), Decimal(0))
    return Account(
        capital=config.capital,
        realized_pnl=totals["realized"] or Decimal(0),
        open_cost=sum((p.entry_price * p.quantity + p.entry_commission for p in positions.values()), reserved),
        open_positions=len(positions) + sum(1 for t in pending_buys if t.symbol not in positions),
        today_realized_pnl=totals["realized_today"] or Decimal(0),
        open_change_today=change_today,
        entries_today=totals["entries"],
    )


def _decision_price(trade: Trade) -> Decimal:
    return Decimal(str(trade.indicators_snapshot.get("close", 0)))


def _after(
    account: Account, trade: Trade, position: Position | None, mark: Decimal, day_value: Decimal | None
) -> Account:
    """The account once `trade` is done, so later symbols in the same tick see the cash it used.
    The backtester books its orders the same way (engine/backtest.py)."""
    if trade.type == Trade.Type.BUY:
        if trade.status not in (Trade.Status.FILLED, Trade.Status.PENDING):
            return account
        # What was filled, at its price; what may still fill, at the decision's.
        filled = trade.price * trade.filled_quantity + trade.commission if trade.filled_quantity else Decimal(0)
        cost = filled + _decision_price(trade) * (trade.quantity - trade.filled_quantity)
        return replace(
            account,
            open_cost=account.open_cost + cost,
            open_positions=account.open_positions + 1,
            entries_today=account.entries_today + 1,
        )
    if trade.status != Trade.Status.FILLED:
        return account
    # A sell may fill partly: only the shares sold leave the books (with their share of the entry commission).
    sold = trade.quantity
    entry_share = commission_share(position.entry_commission, sold, position.quantity)
    marked = account.open_change_today - (mark * sold - day_value * sold / position.quantity)
    return replace(
        account,
        realized_pnl=account.realized_pnl + trade.profit_loss,
        today_realized_pnl=account.today_realized_pnl + trade.profit_loss,
        open_cost=account.open_cost - (position.entry_price * sold + entry_share),
        open_positions=account.open_positions - (1 if sold == position.quantity else 0),
        open_change_today=marked,
    )


def _decision_payload(decision: Decision) -> dict:
    return {
        "symbol": decision.symbol,
        "action": decision.action,
        "quantity": decision.quantity,
        "reason": decision.reason,
        "price": str(decision.price),
        "snapshot": decision.snapshot,
    }


def _log(bot: Bot, now: datetime, started: float, report: TickReport) -> None:
    seconds = time.perf_counter() - started
    metrics.TICKS.labels(report.outcome).inc()
    metrics.TICK_SECONDS.labels(report.outcome).observe(seconds)
    log.info(
        "tick",
        outcome=report.outcome,
        duration_ms=round(seconds * 1000, 1),
        orders=report.orders,
        refusals=report.refusals,
        message=report.message,
    )
    TickLog.objects.create(
        bot=bot,
        started_at=now,
        duration_ms=int(seconds * 1000),
        outcome=report.outcome,
        message=report.message[:500],
        decisions=report.decisions,
    )
