"""Backtests: queue a run of a configuration over history, run it as a Celery job, store what it found.

Every state change of a Backtest goes through here (the API, the pages and the task call these).
"""

import itertools
import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import structlog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from backtests import tasks
from backtests.data import backtest_market, market_bars, simulated_cost
from backtests.models import Backtest
from bots.models import Bot
from brokers.base import BrokerError
from engine.backtest import BacktestResult, BacktestTrade, OpenPosition, run_backtest
from engine.config import BotConfig, config_errors
from engine.market_time import TIMEFRAMES, exchange_date
from tradebot import metrics
from tradebot.errors import Invalid, LimitReached

logger = logging.getLogger(__name__)
log = structlog.get_logger(__name__)

# A run's size, estimated before it starts as days x bars a day x symbols. Intraday bars are counted
# around the clock, as the simulated market makes them: a real feed has fewer, so the bound errs safe.
# Two million bars take a few seconds to load and replay.
MAX_BARS = 2_000_000
BARS_PER_DAY = {name: timedelta(days=1) // step for name, step in TIMEFRAMES.items()}
EARLIEST = date(1970, 1, 1)
# Stored fills: about 275 bytes of JSON each, so at most 2.75 MB a backtest. The statistics always
# count every trade (a 2,000,000-bar minute run of the design's bot makes about 29,000 fills).
MAX_STORED_TRADES = 10_000
# Points kept of the equity curve, and of each symbol's closes, for the charts.
CURVE_POINTS = 2000
# The page polls every second; writing progress more often would only load the database.
PROGRESS_EVERY_SECONDS = 0.5
# A backtest over its owner's running cap asks again after this many seconds.
RUNNING_CAP_RETRY = 5
CENT = Decimal("0.01")
COMMISSION_STEP = Decimal("0.0001")
SLIPPAGE_STEP = Decimal("0.000001")


@transaction.atomic
def backtest_create(
    *,
    owner,
    config: BotConfig | None = None,
    bot: Bot | None = None,
    symbols: list[str] | None = None,
    timeframe: str | None = None,
    start: date,
    end: date,
    capital: Decimal | None = None,
    slippage: Decimal | None = None,
    commission: Decimal | None = None,
) -> Backtest:
    """Queue a backtest of `config`, or of the bot's saved configuration when no config is given.

    Left out: symbols, timeframe and capital come from the configuration; slippage and commission
    from the bot's broker account (its simulated costs), else the defaults of a new account.
    Raises Invalid listing every failing field.
    """
    if bot is not None and bot.owner_id != owner.pk and not owner.is_superuser:
        raise Invalid([{"field": "bot_id", "message": "no such bot"}])
    errors = []
    try:
        run_config = _run_config(config if config is not None else _saved_config(bot), symbols, timeframe, capital)
    except Invalid as exc:
        errors, run_config = exc.errors, None
    account = bot.broker_account if bot is not None else None
    slippage = simulated_cost(slippage, account, "sim_slippage")
    commission = simulated_cost(commission, account, "sim_commission")
    errors += _cost_errors(slippage, commission) + _range_errors(start, end, run_config)
    if errors:
        raise Invalid(errors)
    _check_queue_cap(owner)
    backtest = Backtest.objects.create(
        owner=owner,
        bot=bot,
        config=run_config.stored(),
        symbols=run_config.symbols,
        timeframe=run_config.timeframe,
        start=start,
        end=end,
        # As the columns store them, so this instance reads like the row.
        capital=run_config.capital.quantize(CENT),
        slippage=slippage.quantize(SLIPPAGE_STEP),
        commission=commission.quantize(COMMISSION_STEP),
    )
    transaction.on_commit(lambda: tasks.run_backtest.delay(backtest.pk))
    return backtest


def _check_queue_cap(owner) -> None:
    """A person's backtests waiting or running are capped: one person's batch must not fill the
    backtest worker's queue for everyone (nor the server's memory)."""
    # Taken under the owner's row lock, so two requests at once cannot both pass the count.
    get_user_model().objects.select_for_update().filter(pk=owner.pk).exists()
    pending = Backtest.objects.filter(owner=owner, status__in=[Backtest.Status.QUEUED, Backtest.Status.RUNNING])
    cap = settings.TRADEBOT_BACKTESTS_PER_USER
    if pending.count() >= cap:
        raise LimitReached(f"you have {cap} backtests queued or running, the most allowed: wait for one to finish")


def _saved_config(bot: Bot | None) -> BotConfig:
    if bot is None:
        raise Invalid([{"field": "config", "message": "give a bot or a configuration"}])
    try:
        return bot.config()
    except ValidationError as exc:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in config_errors(exc))
        raise Invalid([{"field": "bot_id", "message": f"its configuration no longer validates: {problems}"}]) from None


def _run_config(
    config: BotConfig, symbols: list[str] | None, timeframe: str | None, capital: Decimal | None
) -> BotConfig:
    """The configuration as run: the one schema validates the overrides (symbols, timeframe, capital)."""
    overrides = {"symbols": symbols, "timeframe": timeframe, "capital": capital}
    data = config.stored() | {name: value for name, value in overrides.items() if value is not None}
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        raise Invalid(config_errors(exc)) from None


def _cost_errors(slippage: Decimal, commission: Decimal) -> list[dict]:
    errors = []
    if not slippage.is_finite() or not 0 <= slippage < 1 or slippage != slippage.quantize(SLIPPAGE_STEP):
        errors.append({"field": "slippage", "message": "must be a fraction of the price in [0, 1), at most 6 decimals"})
    if not commission.is_finite() or not 0 <= commission < 10**6 or commission != commission.quantize(COMMISSION_STEP):
        errors.append({"field": "commission", "message": "must be dollars per order, 0 to 999999.9999"})
    return errors


def _range_errors(start: date, end: date, config: BotConfig | None) -> list[dict]:
    """The dates, and the run's size when the configuration (its timeframe and symbols) is valid."""
    today = exchange_date(timezone.now())
    errors = []
    if start < EARLIEST:
        errors.append({"field": "start", "message": f"must be {EARLIEST} or later"})
    if end > today:
        errors.append({"field": "end", "message": f"must not be after today ({today}): there are no bars yet"})
    if end < start:
        errors.append({"field": "end", "message": "must not be before start"})
    if errors or config is None:
        return errors
    estimate = ((end - start).days + 1) * BARS_PER_DAY[config.timeframe] * len(config.symbols)
    if estimate > MAX_BARS:
        message = (
            f"{start}..{end} of {len(config.symbols)} symbol(s) in {config.timeframe} bars is about {estimate:,} bars; "
            f"at most {MAX_BARS:,}: shorten the range, use fewer symbols or a longer timeframe"
        )
        errors.append({"field": "start", "message": message})
    return errors


def backtest_run(*, backtest_id: int) -> None:
    """Run a queued backtest to its end. A failure is recorded on the backtest (failed, with the
    message the person sees), not raised: there is nobody else to tell."""
    # Claim it: of two workers handed the same job, only the one that moves it out of queued runs it.
    # One person's backtests run one at a time (TRADEBOT_BACKTESTS_RUNNING_PER_USER): over that, it
    # waits its turn behind theirs and the worker takes other people's.
    with transaction.atomic():
        owner_id = Backtest.objects.filter(pk=backtest_id).values_list("owner_id", flat=True).first()
        if owner_id is None:
            return
        running = Backtest.objects.filter(owner_id=owner_id, status=Backtest.Status.RUNNING).count()
        if running >= settings.TRADEBOT_BACKTESTS_RUNNING_PER_USER:
            transaction.on_commit(lambda: tasks.run_backtest.apply_async((backtest_id,), countdown=RUNNING_CAP_RETRY))
            return
        now = timezone.now()
        claimed = Backtest.objects.filter(pk=backtest_id, status=Backtest.Status.QUEUED).update(
            status=Backtest.Status.RUNNING, started_at=now, alive_at=now, progress=0.0
        )
    if not claimed:
        return
    backtest = Backtest.objects.select_related("bot__broker_account").get(pk=backtest_id)
    started = time.monotonic()
    try:
        bars_by_symbol = _load_bars(backtest)
        result = run_backtest(
            bars_by_symbol,
            BotConfig.model_validate(backtest.config),
            capital=backtest.capital,
            slippage=backtest.slippage,
            commission=backtest.commission,
            timeframe=backtest.timeframe,
            progress=_progress_writer(backtest_id),
        )
    except (ValueError, LookupError, BrokerError) as exc:  # no bars, a feed that failed, refused inputs
        _fail(backtest, str(exc))
    except Exception as exc:
        logger.exception("backtest %s failed", backtest_id)
        _fail(backtest, f"unexpected error: {type(exc).__name__}: {exc}")
    else:
        _store(backtest, bars_by_symbol, result)
    outcome = "failed" if backtest.status == Backtest.Status.FAILED else "completed"
    seconds = time.monotonic() - started
    metrics.BACKTESTS.labels(outcome).inc()
    metrics.BACKTEST_SECONDS.labels(outcome).observe(seconds)
    log.info(
        "backtest",
        backtest_id=backtest_id,
        bot_id=backtest.bot_id,
        user_id=backtest.owner_id,
        outcome=outcome,
        duration_ms=round(seconds * 1000, 1),
        symbols=len(backtest.symbols),
        trades=len(backtest.trades or []),
        error=backtest.error,
    )


def backtests_sweep_stale() -> int:
    """Fail the running backtests that stopped moving (their worker died: a restart, out of memory);
    returns how many. A live run moves `alive_at` every PROGRESS_EVERY_SECONDS."""
    stale_before = timezone.now() - timedelta(seconds=settings.TRADEBOT_BACKTEST_STALE_SECONDS)
    return Backtest.objects.filter(status=Backtest.Status.RUNNING, alive_at__lt=stale_before).update(
        status=Backtest.Status.FAILED,
        error="its worker stopped while it ran (a restart or out of memory): run it again",
        finished_at=timezone.now(),
    )


def _load_bars(backtest: Backtest) -> dict[str, pd.DataFrame]:
    account = backtest.bot.broker_account if backtest.bot is not None else None
    market = backtest_market(account)
    return market_bars(market, backtest.symbols, backtest.timeframe, backtest.start, backtest.end)


def _progress_writer(backtest_id: int) -> Callable[[float], None]:
    last_write = time.monotonic()

    def write(fraction: float) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write >= PROGRESS_EVERY_SECONDS:
            last_write = now
            Backtest.objects.filter(pk=backtest_id).update(
                progress=min(max(fraction, 0.0), 1.0), alive_at=timezone.now()
            )

    return write


def _fail(backtest: Backtest, message: str) -> None:
    backtest.status, backtest.error, backtest.finished_at = Backtest.Status.FAILED, message, timezone.now()
    backtest.save(update_fields=["status", "error", "finished_at"])


def _store(backtest: Backtest, bars_by_symbol: dict[str, pd.DataFrame], result: BacktestResult) -> None:
    stored = result.trades[:MAX_STORED_TRADES]
    backtest.status, backtest.progress, backtest.finished_at = Backtest.Status.DONE, 1.0, timezone.now()
    backtest.stats = result.stats
    backtest.trades = [_trade_row(trade) for trade in stored]
    backtest.trade_count = len(result.trades)
    backtest.equity_curve = equity_points(result, CURVE_POINTS)
    backtest.prices = {
        symbol: price_points(bars, stored, symbol, CURVE_POINTS) for symbol, bars in bars_by_symbol.items()
    }
    backtest.open_positions = [_open_position_row(position) for position in result.open_positions]
    backtest.save(
        update_fields=[
            "status", "progress", "finished_at", "stats", "trades", "trade_count",
            "equity_curve", "prices", "open_positions",
        ]
    )  # fmt: skip


def _trade_row(trade: BacktestTrade) -> dict:
    # The indicator snapshot stays out: it would double the size and the pages do not show it.
    return {
        "symbol": trade.symbol,
        "side": trade.side,
        "quantity": trade.quantity,
        "price": trade.price,
        "commission": trade.commission,
        "timestamp": trade.timestamp,
        "bar_time": trade.bar_time,
        "profit_loss": trade.profit_loss,
        "reason": trade.reason,
    }


def _open_position_row(position: OpenPosition) -> dict:
    return {
        "symbol": position.symbol,
        "quantity": position.quantity,
        "entry_price": position.entry_price,
        "opened_at": position.opened_at,
        "stop_loss_price": position.stop_loss_price,
        "take_profit_price": position.take_profit_price,
        "last_price": position.last_price,
        "market_value": position.market_value,
        "unrealized_pnl": position.unrealized_pnl,
    }


# Downsampling for the charts


def extreme_indexes(series: list[np.ndarray], max_points: int) -> np.ndarray:
    """Sorted indexes of at most max_points points of equally long series, keeping each series' lowest
    and highest point in every bucket of the x axis, and the first and last points: a chart of the
    kept points shows the same peaks and troughs (the same max drawdown) as the whole series."""
    size = len(series[0])
    if size <= max_points:
        return np.arange(size)
    buckets = (max_points - 2) // (2 * len(series))
    edges = np.linspace(0, size, buckets + 1).astype(int)
    kept = [0, size - 1]
    for begin, end in itertools.pairwise(edges):
        for values in series:
            window = values[begin:end]
            kept += [begin + int(np.argmin(window)), begin + int(np.argmax(window))]
    return np.unique(kept)


def equity_points(result: BacktestResult, max_points: int) -> dict:
    """The equity curve for a chart: times (epoch seconds), equity (dollars), drawdown (fraction <= 0)."""
    curve = result.equity_curve
    kept = extreme_indexes([curve.equity, curve.drawdown], max_points)
    return {
        "time": _epoch_seconds(curve.times[kept]),
        "equity": np.round(curve.equity[kept], 2).tolist(),
        "drawdown": np.round(curve.drawdown[kept], 6).tolist(),
    }


def price_points(bars: pd.DataFrame, trades: list[BacktestTrade], symbol: str, max_points: int) -> dict:
    """A symbol's closes for a chart with its fills marked at their bars (the shape bot_detail's charts
    draw): time, close, and buy / sell holding the fill price on a fill's bar, else None."""
    close = bars["close"].to_numpy(dtype=float)
    fills = {side: {} for side in ("buy", "sell")}
    for trade in trades:
        if trade.symbol == symbol:
            fills[trade.side][pd.Timestamp(trade.timestamp)] = float(trade.price)
    filled_bars = bars.index.get_indexer(list(fills["buy"]) + list(fills["sell"]))
    kept = np.union1d(extreme_indexes([close], max_points), filled_bars[filled_bars >= 0])
    times = bars.index[kept]
    return {
        "time": _epoch_seconds(times),
        "close": close[kept].tolist(),
        "buy": [fills["buy"].get(moment) for moment in times],
        "sell": [fills["sell"].get(moment) for moment in times],
    }


def _epoch_seconds(times: pd.DatetimeIndex) -> list[int]:
    return (times.as_unit("s").asi8).tolist()
