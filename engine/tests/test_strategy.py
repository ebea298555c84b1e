"""decide(): exits first, then entries through the risk manager; in_window() on the exchange's clock."""

from datetime import UTC, datetime, time
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from engine.indicators import REGISTRY
from engine.risk import Account, Holding, RiskRules
from engine.signals import Signal, evaluate, signal_at
from engine.strategy import BarView, decide, in_window
from engine.tests.series import bars

RULES = RiskRules(stop_loss=D("0.02"), take_profit=D("0.05"), max_position_size=D("0.1"), max_daily_loss=D("0.1"))
ACCOUNT = Account(D(10000))
BAR = BarView(datetime(2024, 3, 11, 14, 0, tzinfo=UTC), low=D("99.5"), high=D("100.5"), close=D(100))
HOLDING = Holding("AAPL", 7, D(100), stop_loss_price=D(98), take_profit_price=D(105))


def signal(*, entry=False, exit=False, ready=True) -> Signal:
    return Signal(ready=ready, entry=entry, exit=exit, votes={}, reasons=["RSI: test"], snapshot={"close": 100.0})


def run(sig: Signal, *, holding=None, bar=BAR, rules=RULES, account=ACCOUNT, may_enter=True):
    return decide(
        symbol="AAPL", bar=bar, signal=sig, holding=holding, rules=rules, account=account, may_enter=may_enter
    )


# Entries


def test_an_entry_signal_buys_the_risk_managers_size_at_the_close():
    decision = run(signal(entry=True))
    assert (decision.action, decision.quantity, decision.price) == ("buy", 10, D(100))  # 10000 * 0.1 / 100
    assert decision.is_order


def test_no_entry_signal_is_no_order():
    decision = run(signal())
    assert decision.action == "skip" and not decision.is_order


def test_an_entry_signal_while_holding_is_ignored_no_adding():
    decision = run(signal(entry=True), holding=HOLDING)
    assert decision.action == "hold"
    assert decision.quantity == 0


def test_a_paused_bot_makes_no_entries():
    decision = run(signal(entry=True), may_enter=False)
    assert decision.action == "skip"
    assert "paused" in decision.reason


def test_an_entry_refused_by_the_daily_loss_limit_is_no_order_with_the_reason():
    account = Account(D(10000), today_realized_pnl=D(-800), open_change_today=D(-200))
    decision = run(signal(entry=True), account=account)
    assert decision.action == "skip"
    assert "max daily loss" in decision.reason


def test_an_entry_refused_by_max_positions_is_no_order():
    decision = run(signal(entry=True), rules=RiskRules(max_positions=1), account=Account(D(10000), open_positions=1))
    assert decision.action == "skip"
    assert "max open positions" in decision.reason


def test_an_entry_with_zero_shares_affordable_is_no_order_with_a_reason():
    bar = BarView(BAR.time, low=D(1500), high=D(1500), close=D(1500))  # 1000 of budget buys no share
    decision = run(signal(entry=True), bar=bar)
    assert (decision.action, decision.quantity) == ("skip", 0)
    assert "zero shares" in decision.reason


def test_indicators_warming_up_make_no_decision():
    decision = run(signal(ready=False))
    assert decision.action == "skip"
    assert "warming up" in decision.reason


# Exits


def test_a_sell_signal_closes_the_whole_position():
    decision = run(signal(exit=True), holding=HOLDING)
    assert (decision.action, decision.quantity) == ("sell", 7)


def test_the_stop_loss_closes_the_position_even_against_a_buy_signal():
    bar = BarView(BAR.time, low=D(97), high=D(101), close=D("98.5"))
    decision = run(signal(entry=True), holding=HOLDING, bar=bar)
    assert (decision.action, decision.quantity) == ("sell", 7)
    assert decision.reason.startswith("stop-loss")


def test_the_take_profit_closes_the_position():
    bar = BarView(BAR.time, low=D(104), high=D(106), close=D(105))
    decision = run(signal(), holding=HOLDING, bar=bar)
    assert decision.action == "sell" and decision.reason.startswith("take-profit")


def test_a_bar_spanning_stop_and_target_exits_as_a_stop_loss():
    bar = BarView(BAR.time, low=D(90), high=D(110), close=D(100))
    assert run(signal(), holding=HOLDING, bar=bar).reason.startswith("stop-loss")


def test_no_exit_condition_holds():
    assert run(signal(), holding=HOLDING).action == "hold"


@pytest.mark.parametrize("exit_bar", [BarView(BAR.time, low=D(97), high=D(100), close=D(98)), None])
def test_a_paused_bot_still_exits(exit_bar):
    decision = run(signal(exit=exit_bar is None), holding=HOLDING, bar=exit_bar or BAR, may_enter=False)
    assert (decision.action, decision.quantity) == ("sell", 7)


def test_a_bot_halted_for_the_day_still_exits():
    account = Account(D(10000), today_realized_pnl=D(-2000))
    decision = run(signal(exit=True), holding=HOLDING, account=account, may_enter=False)
    assert decision.action == "sell"


# End to end on bars


def test_fewer_bars_than_the_look_back_decide_nothing_and_do_not_crash():
    params = {"RSI": REGISTRY["RSI"].params(), "MACD": REGISTRY["MACD"].params()}
    history = bars([100, 101])
    sig = signal_at(evaluate(history, params, "majority"), -1)
    decision = run(sig)
    assert decision.action == "skip" and "warming up" in decision.reason


def test_a_rising_series_buys_through_the_whole_pipeline():
    params = {"SMA": REGISTRY["SMA"].params(period=3), "EMA": REGISTRY["EMA"].params(period=3)}
    history = bars([96, 97, 98, 99, 100])
    sig = signal_at(evaluate(history, params, "all"), -1)
    decision = run(sig)
    assert (decision.action, decision.quantity) == ("buy", 10)
    assert "SMA: buy" in decision.reason and "EMA: buy" in decision.reason
    assert decision.snapshot["SMA.average"] == 99


# The trading window, on New York's clock, end exclusive


WINDOW = (time(9, 30), time(12, 0))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        # Friday 8 March 2024, EST (UTC-5): 9:30 New York is 14:30 UTC.
        (utc(2024, 3, 8, 14, 30), True),
        (utc(2024, 3, 8, 13, 30), False),  # 8:30 EST
        (utc(2024, 3, 8, 16, 59), True),  # 11:59 EST
        (utc(2024, 3, 8, 17, 0), False),  # 12:00 EST: the end is exclusive
        # Monday 11 March 2024, after the spring change, EDT (UTC-4): 9:30 New York is 13:30 UTC.
        (utc(2024, 3, 11, 13, 30), True),
        (utc(2024, 3, 11, 13, 29, 59), False),
        (utc(2024, 3, 11, 15, 59, 59), True),
        (utc(2024, 3, 11, 16, 0), False),  # 12:00 EDT
        (utc(2024, 3, 11, 16, 30), False),  # 12:30 EDT though 11:30 by winter's offset
        # Friday 1 November 2024 (EDT) and Monday 4 November 2024, after the fall change (EST).
        (utc(2024, 11, 1, 13, 30), True),
        (utc(2024, 11, 4, 13, 30), False),  # 8:30 EST
        (utc(2024, 11, 4, 14, 30), True),
    ],
)
def test_in_window_follows_new_york_time_across_dst(moment, inside):
    assert in_window(moment, *WINDOW) is inside


def test_in_window_accepts_any_aware_time_zone():
    # 15:30 in London on 11 March 2024 (GMT) is 15:30 UTC, 11:30 in New York (EDT).
    assert in_window(datetime(2024, 3, 11, 15, 30, tzinfo=ZoneInfo("Europe/London")), *WINDOW)
