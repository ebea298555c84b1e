"""The backtester: history replayed through the live tick's own engine functions.

Rules:
- Votes come from `signals.evaluate`, computed once over each symbol's whole history: the very
  series the live tick reads its latest bar from. Every decision is `strategy.decide()`, called with
  what the live tick would pass (see `_Run._decide`).
- A decision on bar t's close fills at the open of the same symbol's next bar: buys at
  open × (1 + slippage), sells at open × (1 − slippage), rounded to the price step as the simulated
  broker does, plus `commission` dollars per order. The decided quantity is filled even if the open
  gapped past the cash left, as a live market order would be. A decision on a symbol's last bar has
  no bar to fill at and is dropped.
- Intraday bars are decided on only when their close time (open time + timeframe) is inside the
  bot's [start, end) window on the New York clock: the live tick acts on closed bars while its window
  is open. With a 09:30-12:00 window, the 1-minute bar opening 09:29 is the first decided on and the
  one opening 11:58 the last. Exit signals are checked on those bars only, as live. Daily bars are one
  session each and always decided on.
- Stops and targets never sleep, as the live exit watcher: on every bar that overlaps the regular
  session (09:30-16:00 New York, weekdays), whatever the window, a held position exits inside the bar
  when its low or high reaches the level (engine.risk.exit_in_bar: the bar read as open, low, high, so
  a bar reaching both takes the stop). The exit fills at the level, or at the open when the bar opens
  beyond it, × (1 − slippage), plus commission, recorded on that bar; the bar of an entry's fill
  counts. A position that exits so may be entered again on the same bar's close.
- Symbols share one account. Bar times are processed in order; within one bar time: fills at the
  open, then exits inside the bar, then the daily-limit check, then each symbol's decision in the
  configured order.
- Money, as the live tick counts it: a position costs quantity × fill price + commission; a sell's
  profit_loss is (exit − entry) × quantity − both commissions; unrealized P&L is marked at each
  symbol's last close. An order is booked when decided, as the live tick's immediate fill would be
  (a buy's cost into open cost, a sell's profit_loss into realized P&L, both estimated at the
  decision bar's close), and corrected to its fill price at the next open; so a symbol deciding
  after another within one bar time sees that order, as in a live tick.
- Daily counters (entries today, today's realized P&L) reset when the New York date of the bar's
  close changes (each daily bar is its own day); a fill's correction counts on the day it fills.
  Today's P&L is today's realized P&L plus the open positions' change since today's open: from the
  open of their symbol's first bar of the day if held overnight (its last close if it has no bar
  then), from their cost if bought today; the live tick counts it the same way.
  max_daily_loss / daily_target are checked at the start of each bar time in the window, as the
  live tick does at its start; once hit, the bot is paused until the next day: no entries, exits
  still managed. (Within a bar time, decide() itself refuses entries past a limit.)
- A position still open at the end is reported open, valued at its last close in the equity.

Speed: the bar loop visits only bars where something can happen. Flat, a symbol's next event is
its next entry-signal bar in the window; holding, the first bar in the session or window whose
low may reach the stop, high the target, or with an exit signal in the window; with daily limits
set and positions held, the first bar whose marked P&L may reach a limit. The float screens are a
superset of the Decimal rules (a price-step margin), and decide() / daily_halt() have the last word
on every visited bar.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from engine import stats
from engine.config import BotConfig
from engine.market_time import DAILY, EXCHANGE_TZ, TIMEFRAMES
from engine.risk import PRICE_STEP, Account, Holding, RiskRules, daily_halt, exit_in_bar, protective_prices, to_price
from engine.signals import Evaluation, evaluate, signal_at
from engine.strategy import BarView, Decision, decide

Progress = Callable[[float], None]

NANOSECONDS_PER_DAY = 86_400 * 10**9
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Float screens widen their thresholds by this much so rounding to the price step never hides a bar.
SCREEN_MARGIN = float(PRICE_STEP)
# to_price of a bar's price, memoised: quotes repeat (they are in cents), and Decimal(str(float)) is
# a good part of a decision's cost.
_price = lru_cache(maxsize=1 << 14)(to_price)
SESSION_OPEN_MINUTE, SESSION_CLOSE_MINUTE = 9 * 60 + 30, 16 * 60
# Share of the progress bar given to computing indicators; the bar loop gets the rest.
INDICATOR_SHARE = 0.3


@dataclass(frozen=True)
class BacktestTrade:
    symbol: str
    side: Literal["buy", "sell"]
    quantity: int
    price: Decimal
    commission: Decimal
    timestamp: datetime  # the fill: the open of the bar after the one decided on
    bar_time: datetime  # the bar decided on (its open time, as bars are indexed)
    profit_loss: Decimal | None  # sells only
    reason: str
    snapshot: dict


@dataclass(frozen=True)
class OpenPosition:
    symbol: str
    quantity: int
    entry_price: Decimal
    entry_commission: Decimal
    opened_at: datetime
    stop_loss_price: Decimal | None
    take_profit_price: Decimal | None
    last_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True)
class EquityCurve:
    """Equity at every bar time of the run (UTC, bars' open times), valued at that bar's close."""

    times: pd.DatetimeIndex
    equity: np.ndarray
    drawdown: np.ndarray  # fraction below the running peak, <= 0


@dataclass(frozen=True)
class BacktestResult:
    trades: list[BacktestTrade]
    equity_curve: EquityCurve
    open_positions: list[OpenPosition]
    stats: dict


def run_backtest(
    bars_by_symbol: dict[str, pd.DataFrame],
    config: BotConfig,
    *,
    capital: Decimal,
    slippage: Decimal,
    commission: Decimal,
    timeframe: str,
    progress: Progress | None = None,
) -> BacktestResult:
    """Backtest `config` over bars (UTC-indexed OHLCV frames) of its symbols, all on one account.

    Symbols run in the configured order; symbols not in the configuration follow in the given order.
    """
    if capital <= 0 or not 0 <= slippage < 1 or commission < 0:
        raise ValueError("capital must be positive, slippage a fraction in [0, 1) and commission not negative")
    report = progress or (lambda fraction: None)
    order = [s for s in config.symbols if s in bars_by_symbol] + [s for s in bars_by_symbol if s not in config.symbols]
    if not order or any(bars_by_symbol[s].empty for s in order):
        raise ValueError("no bars to backtest")
    clock = _Clock([bars_by_symbol[s].index for s in order], config, TIMEFRAMES[timeframe], daily=timeframe == DAILY)
    markets = []
    for done, symbol in enumerate(order, start=1):
        markets.append(_Market.prepare(symbol, bars_by_symbol[symbol], config, clock))
        report(INDICATOR_SHARE * done / len(order))
    run = _Run(markets, clock, config.risk_management.rules(), capital, slippage, commission)
    run.replay(lambda fraction: report(INDICATOR_SHARE + (1 - INDICATOR_SHARE) * fraction))
    result = run.result()
    report(1.0)
    return result


class _Clock:
    """The run's bar times (the union over symbols) and, for each, whether the bot decides on it and its day."""

    def __init__(self, indexes: list[pd.DatetimeIndex], config: BotConfig, step, *, daily: bool):
        stamps = [_nanoseconds(index) for index in indexes]
        self.stamps = stamps[0] if len(stamps) == 1 else np.unique(np.concatenate(stamps))
        self.times = pd.DatetimeIndex(self.stamps.view("datetime64[ns]"), name="time").tz_localize("UTC")
        self.size = len(self.stamps)
        if daily:
            self.in_window = np.ones(self.size, dtype=bool)
            self.in_session = self.in_window
            self.day = np.arange(self.size)
        else:
            # Wall-clock nanoseconds of each bar's close in New York (DST-aware), split into date and time of day.
            wall = _nanoseconds((self.times + step).tz_convert(EXCHANGE_TZ).tz_localize(None))
            self.day = wall // NANOSECONDS_PER_DAY
            time_of_day = wall - self.day * NANOSECONDS_PER_DAY
            start, end = _time_ns(config.window_start), _time_ns(config.window_end)
            self.in_window = (time_of_day >= start) & (time_of_day < end)
            self.in_session = _in_session(self.times, step)
        starts = np.flatnonzero(np.diff(self.day, prepend=self.day[0] - 1))
        self.day_starts = starts.tolist()
        self.day_ends = np.append(starts[1:], self.size) - 1

    def next_day_start(self, t: int) -> int:
        """The first bar time of the day after bar time t's (size when none)."""
        k = bisect_right(self.day_starts, t)
        return self.day_starts[k] if k < len(self.day_starts) else self.size


def _in_session(opens: pd.DatetimeIndex, step: timedelta) -> np.ndarray:
    """Bars that overlap the regular session (09:30-16:00 New York on weekdays): when the live exit
    watcher acts (an hour bar opening 09:00 holds the session's first half hour). Holidays have no
    bars to speak of."""
    local = opens.tz_convert(EXCHANGE_TZ)
    minute = local.hour * 60 + local.minute
    length = step // timedelta(minutes=1)
    overlaps = (minute < SESSION_CLOSE_MINUTE) & (minute + length > SESSION_OPEN_MINUTE)
    return np.asarray((local.day_of_week < 5) & overlaps)


def _nanoseconds(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8


def _time_ns(moment) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 10**9 + moment.microsecond * 1000


@dataclass(frozen=True, slots=True)
class _Market:
    """One symbol's history as arrays, and where on it the engine may act."""

    symbol: str
    stamps: np.ndarray  # bar open times, nanoseconds since the epoch (UTC)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    evaluation: Evaluation
    at: np.ndarray  # each bar's position among the run's bar times
    # Sorted bar numbers as lists: bisect on a list is ten times faster than numpy's searchsorted on one value.
    entries: list[int]  # bars with an entry signal in the window
    exits: list[int]  # bars with an exit signal in the window
    entry_close: np.ndarray  # the close of each of those entry bars, for the affordability screen
    window: np.ndarray  # whether each bar is decided on
    session: np.ndarray  # whether each bar opens in the regular session (stops and targets watched)
    # Lows and highs where stops and targets are checked (session or window), ±inf elsewhere: their screens.
    watched_low: np.ndarray
    watched_high: np.ndarray
    close_by_time: np.ndarray  # the last close at each of the run's bar times (NaN before the first bar)

    @classmethod
    def prepare(cls, symbol: str, bars: pd.DataFrame, config: BotConfig, clock: _Clock) -> "_Market":
        if bars.index.tz is None or not bars.index.is_monotonic_increasing or not bars.index.is_unique:
            raise ValueError(f"{symbol}: bars need a time-zone-aware, ascending index without duplicates")
        evaluation = evaluate(bars, config.indicator_params(), config.signal_mode)
        close = bars["close"].to_numpy(dtype=float)
        stamps = _nanoseconds(bars.index)
        at = np.searchsorted(clock.stamps, stamps)
        in_window, in_session = clock.in_window[at], clock.in_session[at]
        low, high = bars["low"].to_numpy(dtype=float), bars["high"].to_numpy(dtype=float)
        watched = in_window | in_session
        everywhere = bool(watched.all())
        entries = np.flatnonzero(evaluation.entry & in_window)
        if len(at) == clock.size:
            close_by_time = close
        else:
            last = np.searchsorted(at, np.arange(clock.size), side="right") - 1
            close_by_time = np.where(last >= 0, close[np.maximum(last, 0)], np.nan)
        return cls(
            symbol=symbol,
            stamps=stamps,
            open=bars["open"].to_numpy(dtype=float),
            high=high,
            low=low,
            close=close,
            evaluation=evaluation,
            at=at,
            entries=entries.tolist(),
            entry_close=close[entries],
            exits=np.flatnonzero(evaluation.exit & in_window).tolist(),
            window=in_window,
            session=in_session,
            watched_low=low if everywhere else np.where(watched, low, np.inf),
            watched_high=high if everywhere else np.where(watched, high, -np.inf),
            close_by_time=close_by_time,
        )

    @property
    def size(self) -> int:
        return self.close.size

    def time(self, bar: int) -> datetime:
        # A tenth of the cost of boxing a pandas Timestamp; bar times are whole microseconds.
        return EPOCH + timedelta(microseconds=int(self.stamps[bar]) // 1000)


@dataclass(frozen=True, slots=True)
class _Position:
    holding: Holding
    cost: Decimal  # quantity × entry price + entry commission
    day_value: Decimal  # what it was worth at today's open (its cost on the day it was bought)
    commission: Decimal
    opened_at: datetime
    # Float screens for the stop and the target, widened by the margin (±inf when the rule is off).
    low_screen: float
    high_screen: float


@dataclass(frozen=True, slots=True)
class _Order:
    decision: Decision
    bar_time: datetime
    fill_bar: int
    booked: Decimal  # buy: estimated cost; sell: estimated profit_loss


@dataclass(slots=True)
class _Book:
    """One symbol's state in the run."""

    number: int  # in the configured order
    market: _Market
    position: _Position | None = None
    order: _Order | None = None
    resume: int = 0  # the symbol's bar from which its next event is searched
    next_bar: int = 0  # the symbol's next event bar
    next_time: int = 0  # ... as a position among the run's bar times (clock.size: none)

    @property
    def marked(self) -> bool:
        """Counted in the unrealized P&L: filled and not being sold. As in the live tick, a buy decided
        on this bar time is not marked until filled, and a sell decided on it is already realized."""
        return self.position is not None and self.order is None


class _Run:
    def __init__(self, markets: list[_Market], clock: _Clock, rules: RiskRules, capital, slippage, commission):
        self.clock, self.rules = clock, rules
        self.capital, self.slippage, self.commission = Decimal(capital), Decimal(slippage), Decimal(commission)
        self.books = [_Book(number, market) for number, market in enumerate(markets)]
        self.has_daily_limits = rules.max_daily_loss is not None or rules.daily_target is not None
        self.loss_line = -float(self.capital * rules.max_daily_loss) if rules.max_daily_loss is not None else -np.inf
        self.target_line = float(self.capital * rules.daily_target) if rules.daily_target is not None else np.inf
        self.trades: list[BacktestTrade] = []
        self.fills: list[tuple[int, int, int, float]] = []  # (bar time, book, quantity change, cash change)
        self.cash = self.capital  # actual cash after fills, for the final equity
        # The account as decisions see it (orders booked when decided).
        self.realized = Decimal(0)
        self.open_cost = Decimal(0)
        self.open_positions = 0
        self.today_realized = Decimal(0)
        self.entries_today = 0
        self.day = None
        self.halted = False
        self.t = 0

    # The loop

    def replay(self, progress: Progress) -> None:
        for book in self.books:
            self._schedule(book)
        size, next_report = self.clock.size, 0
        t = min(book.next_time for book in self.books)
        while t < size:
            if t >= next_report:
                progress(t / size)
                next_report = t + size // 100 + 1
            self._bar_time(t)
            t = self._next_time(t)

    def _bar_time(self, t: int) -> None:
        self.t = t
        if self.clock.day[t] != self.day:
            self.day, self.today_realized, self.entries_today, self.halted = self.clock.day[t], Decimal(0), 0, False
            self._value_at_day_open(t)
        filling = [book for book in self.books if book.order is not None and book.next_time == t]
        for book in filling:
            self._fill(book)
        for book in filling:
            if book.position is not None:
                self._schedule(book)
        exited = [book for book in self.books if book.next_time == t and book.marked and self._exit_inside(book)]
        if filling or exited:
            self._reschedule_entries(turns_taken=0)
        if self.has_daily_limits and self.clock.in_window[t] and not self.halted:
            if daily_halt(self.rules, self._account()) is not None:
                self.halted = True
                self._reschedule_entries(turns_taken=0)
        for book in self.books:
            if book.next_time == t and book.order is None and self._decide(book):
                self._reschedule_entries(turns_taken=book.number + 1)

    def _next_time(self, t: int) -> int:
        upcoming = min(book.next_time for book in self.books)
        if not self.has_daily_limits or not any(book.marked for book in self.books):
            return upcoming
        # Held positions move today's P&L on every bar: look for a limit until the next event or the
        # day's end (the next day resets the counters and the halt, and the search goes on from there).
        until = min(upcoming, self.clock.next_day_start(t))
        return until if self.halted else self._daily_limit_candidate(t + 1, until)

    # Where the next event is

    def _reschedule_entries(self, turns_taken: int) -> None:
        """The account changed: find flat symbols' next entry again. Those that already had their turn at
        this bar time (the first `turns_taken`) look from the next bar time on."""
        for book in self.books:
            if book.position is None and book.order is None:
                self._schedule(book, not_before=self.t + (book.number < turns_taken))

    def _schedule(self, book: _Book, not_before: int = 0) -> None:
        market = book.market
        if book.order is not None:
            bar = book.order.fill_bar
        elif book.position is not None:
            bar = self._next_exit_candidate(book)
        else:
            start = max(book.resume, int(np.searchsorted(market.at, not_before)))
            bar = self._next_entry_candidate(book, start)
        book.next_bar = bar
        book.next_time = int(market.at[bar]) if bar < market.size else self.clock.size

    def _next_entry_candidate(self, book: _Book, start: int) -> int:
        """The first entry-signal bar from `start` on where decide() could buy: none while max_positions
        is reached, the next day's when paused or max_daily_trades is used up, and only where the
        close leaves at least one share within the position budget and the cash left."""
        market, rules = book.market, self.rules
        if rules.max_positions is not None and self.open_positions >= rules.max_positions:
            return market.size
        if self.halted or (rules.max_daily_trades is not None and self.entries_today >= rules.max_daily_trades):
            start = max(start, int(np.searchsorted(market.at, self.clock.next_day_start(self.t))))
        cash = self.capital + self.realized - self.open_cost
        budget = self.capital * rules.max_position_size if rules.max_position_size is not None else cash
        affordable = float(min(budget, cash)) + SCREEN_MARGIN
        k = bisect_left(market.entries, start)
        if k < len(market.entries) and market.entry_close[k] > affordable:  # else the usual case: the next signal
            k = _first_true(lambda a, b: market.entry_close[a:b] <= affordable, k + 1, len(market.entries))
        return market.entries[k] if k < len(market.entries) else market.size

    def _next_exit_candidate(self, book: _Book) -> int:
        market, position, start = book.market, book.position, book.resume
        signal_bar = _next_in(market.exits, start, market.size)
        if position.low_screen == -np.inf and position.high_screen == np.inf:
            return signal_bar
        low, high = market.watched_low, market.watched_high
        return _first_true(
            lambda a, b: (low[a:b] <= position.low_screen) | (high[a:b] >= position.high_screen), start, signal_bar
        )

    def _daily_limit_candidate(self, start: int, stop: int) -> int:
        if start >= stop:
            return stop
        held = [
            (book.position.holding.quantity, book.position.day_value, book.market) for book in self.books if book.marked
        ]
        pnl = np.full(stop - start, float(self.today_realized - sum(value for _, value, _ in held)))
        for quantity, _, market in held:
            pnl += quantity * market.close_by_time[start:stop]
        margin = SCREEN_MARGIN * sum(quantity for quantity, _, _ in held) + 0.01
        reached = (pnl <= self.loss_line + margin) | (pnl >= self.target_line - margin)
        hits = self.clock.in_window[start:stop] & reached
        found = np.flatnonzero(hits)
        return start + int(found[0]) if found.size else stop

    # What happens on a bar

    def _value_at_day_open(self, t: int) -> None:
        """A new day: each open position's value from now on is measured from the open of its first bar."""
        for book in self.books:
            if book.position is not None:
                market = book.market
                j = int(np.searchsorted(market.at, t))
                opened = market.open[j] if j < market.size and market.at[j] == t else market.close_by_time[t - 1]
                position = book.position
                book.position = replace(position, day_value=position.holding.quantity * _price(opened))

    def _exit_inside(self, book: _Book) -> bool:
        """The stop or target reached inside the book's event bar, filled there (the live exit watcher's
        rule, engine.risk.exit_in_bar). False when the bar does not reach them."""
        market, j, position = book.market, book.next_bar, book.position
        hit = None
        if market.session[j]:
            hit = exit_in_bar(position.holding, _price(market.open[j]), _price(market.low[j]), _price(market.high[j]))
        if hit is None:
            if not market.window[j]:  # a near miss of the screens outside the window: nothing to decide there
                book.resume = j + 1
                self._schedule(book)
            return False
        reason, level = hit
        quantity = position.holding.quantity
        price = to_price(level * (1 - self.slippage))
        cash_change = quantity * price - self.commission
        profit_loss = cash_change - position.cost
        self.open_cost -= position.cost
        self.open_positions -= 1
        self.realized += profit_loss
        self.today_realized += profit_loss
        self.cash += cash_change
        self.fills.append((self.t, book.number, -quantity, float(cash_change)))
        at = market.time(j)
        snapshot = {"close": float(level), "price_source": "inside the bar"}
        self.trades.append(
            BacktestTrade(
                market.symbol, "sell", quantity, price, self.commission, at, at, profit_loss, reason, snapshot
            )
        )
        book.position, book.resume = None, j
        self._schedule(book, not_before=self.t)
        return True

    def _account(self) -> Account:
        change_today = Decimal(0)
        for book in self.books:
            if book.marked:
                position = book.position
                change_today += (
                    position.holding.quantity * _price(book.market.close_by_time[self.t]) - position.day_value
                )
        return Account(
            capital=self.capital,
            realized_pnl=self.realized,
            open_cost=self.open_cost,
            open_positions=self.open_positions,
            today_realized_pnl=self.today_realized,
            open_change_today=change_today,
            entries_today=self.entries_today,
        )

    def _decide(self, book: _Book) -> bool:
        """decide() on the book's next event bar, as the live tick would call it; whether an order was booked."""
        market, j = book.market, book.next_bar
        bar = BarView(
            time=market.time(j),
            low=_price(market.low[j]),
            high=_price(market.high[j]),
            close=_price(market.close[j]),
        )
        decision = decide(
            symbol=market.symbol,
            bar=bar,
            signal=signal_at(market.evaluation, j),
            holding=book.position.holding if book.position is not None else None,
            rules=self.rules,
            account=self._account(),
            may_enter=not self.halted,
        )
        book.resume = j + 1
        booked = decision.is_order and j + 1 < market.size
        if booked:
            self._book(book, _Order(decision, bar.time, fill_bar=j + 1, booked=self._estimate(book, decision)))
        self._schedule(book)
        return booked

    def _estimate(self, book: _Book, decision: Decision) -> Decimal:
        """A buy's cost or a sell's profit_loss, as if filled at the decision bar's close."""
        if decision.action == "buy":
            return decision.quantity * decision.price + self.commission
        return decision.quantity * decision.price - self.commission - book.position.cost

    def _book(self, book: _Book, order: _Order) -> None:
        book.order = order
        if order.decision.action == "buy":
            self.open_cost += order.booked
            self.open_positions += 1
            self.entries_today += 1
        else:
            self.open_cost -= book.position.cost
            self.open_positions -= 1
            self.realized += order.booked
            self.today_realized += order.booked

    def _fill(self, book: _Book) -> None:
        market, order = book.market, book.order
        j, decision = order.fill_bar, order.decision
        quantity, buying = decision.quantity, decision.action == "buy"
        price = to_price(_price(market.open[j]) * (1 + self.slippage if buying else 1 - self.slippage))
        filled_at = market.time(j)
        if buying:
            cost = quantity * price + self.commission
            self.open_cost += cost - order.booked
            stop, take = protective_prices(self.rules, price)
            book.position = _Position(
                holding=Holding(market.symbol, quantity, price, stop, take),
                cost=cost,
                day_value=cost,
                commission=self.commission,
                opened_at=filled_at,
                low_screen=float(stop) + SCREEN_MARGIN if stop is not None else -np.inf,
                high_screen=float(take) - SCREEN_MARGIN if take is not None else np.inf,
            )
            cash_change, profit_loss = -cost, None
        else:
            cash_change = quantity * price - self.commission
            profit_loss = cash_change - book.position.cost
            self.realized += profit_loss - order.booked
            self.today_realized += profit_loss - order.booked
            book.position = None
        self.cash += cash_change
        self.fills.append((self.t, book.number, quantity if buying else -quantity, float(cash_change)))
        self.trades.append(
            BacktestTrade(
                symbol=market.symbol,
                side=decision.action,
                quantity=quantity,
                price=price,
                commission=self.commission,
                timestamp=filled_at,
                bar_time=order.bar_time,
                profit_loss=profit_loss,
                reason=decision.reason,
                snapshot=decision.snapshot,
            )
        )
        book.order, book.resume = None, j

    # The result

    def result(self) -> BacktestResult:
        clock = self.clock
        cash_change = np.zeros(clock.size)
        changes = [([], []) for _ in self.books]  # per symbol: bar times and quantity changes
        for t, b, quantity, cash in self.fills:
            cash_change[t] += cash
            changes[b][0].append(t)
            changes[b][1].append(quantity)
        equity = float(self.capital) + np.cumsum(cash_change)
        exposed = np.zeros(clock.size, dtype=bool)
        for book, (times, quantities) in zip(self.books, changes, strict=True):
            held = np.zeros(clock.size)
            np.add.at(held, times, quantities)
            np.cumsum(held, out=held)
            equity += held * np.nan_to_num(book.market.close_by_time)
            exposed |= held > 0
        open_positions = [self._open_position(book) for book in self.books if book.position is not None]
        final_equity = self.cash + sum((p.market_value for p in open_positions), Decimal(0))
        pnls = [trade.profit_loss for trade in self.trades if trade.profit_loss is not None]
        daily_returns = stats.period_returns(float(self.capital), equity[clock.day_ends])
        buy_and_hold = np.mean([book.market.close[-1] / book.market.close[0] - 1 for book in self.books])
        summary = {
            "start": clock.times[0].isoformat(),
            "end": clock.times[-1].isoformat(),
            "bars": int(sum(book.market.size for book in self.books)),
            "final_equity": final_equity.quantize(Decimal("0.01")),
            "return_pct": ((final_equity / self.capital - 1) * 100).quantize(Decimal("0.0001")),
            "buy_and_hold_return_pct": _rounded(100 * buy_and_hold),
            "trades": len(pnls),
            "win_rate_pct": _rounded(stats.win_rate_pct(pnls)),
            "profit_factor": _rounded(stats.profit_factor(pnls)),
            "expectancy": _money(stats.expectancy(pnls)),
            "max_drawdown_pct": _rounded(stats.max_drawdown_pct(equity)),
            "sharpe_ratio": _rounded(stats.sharpe_ratio(daily_returns)),
            "sortino_ratio": _rounded(stats.sortino_ratio(daily_returns)),
            "exposure_time_pct": _rounded(100 * float(np.mean(exposed))),
            "open_positions": len(open_positions),
        }
        curve = EquityCurve(clock.times, equity, stats.drawdown(equity))
        return BacktestResult(self.trades, curve, open_positions, summary)

    def _open_position(self, book: _Book) -> OpenPosition:
        holding, last_price = book.position.holding, to_price(book.market.close[-1])
        market_value = holding.quantity * last_price
        return OpenPosition(
            symbol=holding.symbol,
            quantity=holding.quantity,
            entry_price=holding.entry_price,
            entry_commission=book.position.commission,
            opened_at=book.position.opened_at,
            stop_loss_price=holding.stop_loss_price,
            take_profit_price=holding.take_profit_price,
            last_price=last_price,
            market_value=market_value,
            unrealized_pnl=market_value - book.position.cost,
        )


def _next_in(sorted_bars: list[int], start: int, none: int) -> int:
    """The first of sorted_bars at or after start, or `none`."""
    k = bisect_left(sorted_bars, start)
    return sorted_bars[k] if k < len(sorted_bars) else none


def _first_true(mask: Callable[[int, int], np.ndarray], start: int, stop: int) -> int:
    """The first i in [start, stop) where mask(a, b)[i - a] holds, or stop. Looks in growing chunks so
    the cost is proportional to the distance to the hit, not to the rest of the history."""
    size = 128
    while start < stop:
        end = min(stop, start + size)
        hits = np.flatnonzero(mask(start, end))
        if hits.size:
            return start + int(hits[0])
        start, size = end, size * 4
    return stop


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))
