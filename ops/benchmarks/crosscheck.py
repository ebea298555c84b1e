"""`manage.py benchmark crosscheck`: our backtester against backtesting.py on its public GOOG sample.

The same rules in both: GOOG daily bars 2004-08-19 to 2013-03-01 (backtesting.py's `backtesting.test.GOOG`,
2,148 sessions), an SMA(10) / SMA(20) crossover, long-only, one position, whole shares, all in
(max_position_size 1), a decision on a bar's close filled at the next bar's open (backtesting.py's
default trade_on_close=False), no commission, no slippage, 10,000 of capital; a position still open
at the end stays open and is valued at the last close in both.

backtesting.py runs twice:
- "our sizing": its strategy buys the quantity our risk manager would, floor(min(capital, cash) /
  the decision bar's close), and margin=0.5. Our engine fills a decided market order even when the
  next open gapped above the cash left, as a live broker would; backtesting.py cancels such an order
  ("insufficient margin") unless margin < 1 lets it, so margin=0.5 is what makes the rules the same
  (no trade here costs more than 1.1 x the cash). The trades, the equity and the drawdown must then
  agree to the cent: the test in bots/tests/test_crosscheck.py holds them to it.
- "its default sizing": `self.buy()`, as its documentation's example does: whole shares of *all the
  equity* at the *fill's open*. Our bot sizes on its configured capital (it does not compound its
  gains) at the decision's close. Entries and exits fall on the same bars; quantities, and so the
  money, differ, and the differing trades are listed with both sizes.

Buy and hold differs by definition: ours is the first to the last close of the data; backtesting.py's
starts at the first bar after its indicators' warm-up (bar 19 here).
"""

import warnings
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from engine.backtest import run_backtest
from engine.config import BotConfig
from engine.market_time import day_start, exchange_date
from ops.benchmarks.sma_cross import ALIGNED_MARGIN, CAPITAL, FAST, SLOW, backtest

CONFIG = {
    "name": "SMA 10/20 crossover",
    "capital": CAPITAL,
    "symbols": ["GOOG"],
    "indicators": {"SMA": {"fast": FAST, "slow": SLOW}},
    "risk_management": {"max_position_size": 1, "stop_loss": None, "take_profit": None},
    "timeframe": "1Day",
}


@dataclass(frozen=True)
class RoundTrip:
    entry_day: date
    exit_day: date | None  # None: still open at the end
    quantity: int
    entry_price: float
    exit_price: float | None


@dataclass(frozen=True)
class Run:
    name: str
    trips: list[RoundTrip]
    final_equity: float
    return_pct: float
    max_drawdown_pct: float
    win_rate_pct: float
    buy_and_hold_pct: float
    cancelled_days: list[date]  # orders backtesting.py's broker refused for want of cash

    @property
    def closed(self) -> list[RoundTrip]:
        return [trip for trip in self.trips if trip.exit_day is not None]


def goog() -> pd.DataFrame:
    """backtesting.py's GOOG sample as it ships (naive dates, capitalised columns)."""
    from backtesting.test import GOOG

    return GOOG


def as_our_bars(data: pd.DataFrame) -> pd.DataFrame:
    """The sample as our feeds give daily bars: indexed by the session's midnight in New York, in UTC."""
    bars = data.rename(columns=str.lower).astype(float)
    bars.index = pd.DatetimeIndex([day_start(moment.date()) for moment in data.index], name="time").tz_convert("UTC")
    return bars


def run_ours(data: pd.DataFrame) -> Run:
    result = run_backtest(
        {"GOOG": as_our_bars(data)},
        BotConfig.model_validate(CONFIG),
        capital=Decimal(CAPITAL),
        slippage=Decimal(0),
        commission=Decimal(0),
        timeframe="1Day",
    )
    trips, entry = [], None
    for trade in result.trades:
        if trade.side == "buy":
            entry = trade
        else:
            trips.append(_trip(entry, trade.timestamp, trade.price))
    trips += [_trip(entry, None, None) for _ in result.open_positions]
    stats = result.stats
    return Run(
        name="Tradebot",
        trips=trips,
        final_equity=float(stats["final_equity"]),
        return_pct=float(stats["return_pct"]),
        max_drawdown_pct=stats["max_drawdown_pct"],
        win_rate_pct=stats["win_rate_pct"],
        buy_and_hold_pct=stats["buy_and_hold_return_pct"],
        cancelled_days=[],
    )


def _trip(entry, exit_time, exit_price) -> RoundTrip:
    return RoundTrip(
        entry_day=exchange_date(entry.timestamp),
        exit_day=exchange_date(exit_time) if exit_time else None,
        quantity=entry.quantity,
        entry_price=float(entry.price),
        exit_price=float(exit_price) if exit_price is not None else None,
    )


def run_backtesting_py(data: pd.DataFrame, *, our_sizing: bool, margin: float = 1.0) -> Run:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = backtest(data, our_sizing=our_sizing, margin=margin).run()
    trips = [
        RoundTrip(row.EntryTime.date(), row.ExitTime.date(), int(row.Size), float(row.EntryPrice), float(row.ExitPrice))
        for row in stats._trades.itertuples()
    ]
    trips += [
        RoundTrip(trade.entry_time.date(), None, int(trade.size), float(trade.entry_price), None)
        for trade in stats._strategy.trades
    ]
    return Run(
        name="backtesting.py" + (" (our sizing)" if our_sizing else " (its sizing)"),
        trips=trips,
        final_equity=float(stats["Equity Final [$]"]),
        return_pct=float(stats["Return [%]"]),
        max_drawdown_pct=float(stats["Max. Drawdown [%]"]),
        win_rate_pct=float(stats["Win Rate [%]"]),
        buy_and_hold_pct=float(stats["Buy & Hold Return [%]"]),
        cancelled_days=_cancelled_days(caught, data),
    )


def _cancelled_days(caught, data: pd.DataFrame) -> list[date]:
    """The bars whose orders backtesting.py's broker cancelled, from its warnings ('time=157: Broker canceled ...')."""
    bars = [
        int(str(w.message).split(":")[0].removeprefix("time="))
        for w in caught
        if "insufficient margin" in str(w.message)
    ]
    return [data.index[bar].date() for bar in bars]


def differences(ours: Run, theirs: Run) -> list[str]:
    """Each round trip that differs, with both versions."""
    lines = []
    if len(ours.trips) != len(theirs.trips):
        lines.append(f"{len(ours.trips)} round trips against {len(theirs.trips)}")
    # Unequal counts are said above; the common part is compared trip by trip.
    for number, (mine, other) in enumerate(zip(ours.trips, theirs.trips, strict=False), start=1):
        if mine != other:
            lines.append(f"#{number}: ours {_shown(mine)}; theirs {_shown(other)}")
    return lines


def _shown(trip: RoundTrip) -> str:
    exit = f"sell {trip.exit_day} @ {trip.exit_price:.2f}" if trip.exit_day else "still open"
    return f"{trip.quantity} shares, buy {trip.entry_day} @ {trip.entry_price:.2f}, {exit}"


def compare() -> tuple[Run, Run, Run, Run]:
    """(ours, backtesting.py with our sizing, ... with its default sizing, ... with our sizing but margin 1)."""
    data = goog()
    return (
        run_ours(data),
        run_backtesting_py(data, our_sizing=True, margin=ALIGNED_MARGIN),
        run_backtesting_py(data, our_sizing=False),
        run_backtesting_py(data, our_sizing=True),
    )


def add_arguments(parser) -> None:
    """No options: the data, the rules and the capital are fixed, so the table is reproducible."""


def run(out, **_) -> None:
    from backtesting import __version__

    ours, aligned, default, unmargined = compare()
    data = goog()
    write = out.write
    write(
        f"Cross-check against backtesting.py {__version__} on its GOOG sample: {len(data):,} daily bars, "
        f"{data.index[0]:%Y-%m-%d} to {data.index[-1]:%Y-%m-%d}"
    )
    write(
        f"Rules: SMA({FAST}) / SMA({SLOW}) crossover, long-only, whole shares, all in, next-open fills, "
        f"no costs, capital {CAPITAL:,}"
    )
    write("")
    runs = (ours, aligned, default)
    write(f"{'':24}" + "".join(f"{run.name:>30}" for run in runs))
    rows = (
        ("Closed round trips", lambda r: f"{len(r.closed)}"),
        (
            "Open at the end",
            lambda r: ", ".join(f"{t.quantity} since {t.entry_day}" for t in r.trips if not t.exit_day) or "none",
        ),
        ("Final equity", lambda r: f"{r.final_equity:,.2f}"),
        ("Return %", lambda r: f"{r.return_pct:.2f}"),
        ("Max drawdown %", lambda r: f"{r.max_drawdown_pct:.2f}"),
        ("Win rate %", lambda r: f"{r.win_rate_pct:.2f}"),
        ("Buy and hold %", lambda r: f"{r.buy_and_hold_pct:.2f}"),
        ("Entry and exit days", lambda r: "" if r is ours else ("the same" if _days(r) == _days(ours) else "DIFFER")),
        ("Trades differing", lambda r: "" if r is ours else f"{len(differences(ours, r))}"),
    )
    for label, cell in rows:
        write(f"{label:24}" + "".join(f"{cell(run):>30}" for run in runs))
    write("")
    write(
        f"Round trips of {default.name} that differ from ours (quantity: ours is floor(min(capital, cash) / "
        "decision close), its default floor(equity / fill open)):"
    )
    for line in differences(ours, default):
        write(f"  {line}")
    for day in unmargined.cancelled_days:
        write(
            f"With margin=1, backtesting.py cancels the buy due at the open of {day}: {_overdraft(ours, day)}. "
            "Ours fills the decided quantity, as a live market order would be: hence margin=0.5 in the aligned run."
        )


def _overdraft(run: Run, day: date) -> str:
    """How a buy filled on `day` cost more than the cash: sized at the previous close, filled at a higher open."""
    trip = next(trip for trip in run.trips if trip.entry_day == day)
    cash = CAPITAL + sum((t.exit_price - t.entry_price) * t.quantity for t in run.closed if t.exit_day <= day)
    cost = trip.quantity * trip.entry_price
    return f"{trip.quantity} shares at {trip.entry_price:.2f} cost {cost:,.2f} with {cash:,.2f} of cash"


def _days(run: Run) -> list[tuple[date, date | None]]:
    return [(trip.entry_day, trip.exit_day) for trip in run.trips]
