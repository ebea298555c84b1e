"""The risk manager's rules, each on numbers small enough to check by hand."""

from decimal import Decimal as D

import pytest

from engine.risk import (
    Account,
    Holding,
    RiskRules,
    daily_halt,
    entry_refusal,
    exit_trigger,
    position_size,
    protective_prices,
)

CAPITAL = D(10000)


def holding(stop="98", take="105") -> Holding:
    return Holding("AAPL", 10, D(100), D(stop) if stop else None, D(take) if take else None)


# Position size: floor(capital x max_position_size / price), capped by the cash left


def test_size_is_the_floor_of_capital_times_max_position_size_over_price():
    quantity, reason = position_size(RiskRules(max_position_size=D("0.1")), Account(CAPITAL), D(33))
    assert quantity == 30  # 10000 * 0.1 / 33 = 30.3
    assert "position size" in reason


def test_size_never_spends_more_than_the_cash_left():
    # Cash left = capital + realized - open cost = 10000 - 500 - 9000 = 500: 500 / 33 = 15.2 -> 15 (not 30).
    account = Account(CAPITAL, realized_pnl=D(-500), open_cost=D(9000))
    assert account.cash == D(500)
    quantity, reason = position_size(RiskRules(max_position_size=D("0.1")), account, D(33))
    assert quantity == 15
    assert "cash left" in reason


def test_realized_profit_adds_to_the_cash_left():
    account = Account(CAPITAL, realized_pnl=D(700), open_cost=D(10000))  # cash 700
    quantity, _ = position_size(RiskRules(max_position_size=D("0.1")), account, D(33))
    assert quantity == 21  # 700 / 33 = 21.2


def test_zero_shares_affordable_is_no_order_with_a_reason():
    quantity, reason = position_size(RiskRules(max_position_size=D("0.1")), Account(CAPITAL), D(1001))
    assert quantity == 0  # 1000 / 1001
    assert "zero shares" in reason


def test_no_cash_left_is_no_order_even_when_overdrawn():
    account = Account(CAPITAL, realized_pnl=D(-2000), open_cost=D(9000))  # cash -1000
    quantity, reason = position_size(RiskRules(max_position_size=D("0.1")), account, D(10))
    assert quantity == 0
    assert "zero shares" in reason


def test_without_max_position_size_the_whole_cash_left_may_be_spent():
    account = Account(CAPITAL, open_cost=D(4000))
    quantity, _ = position_size(RiskRules(max_position_size=None), account, D(7))
    assert quantity == 857  # 6000 / 7 = 857.1


def test_no_price_is_no_order():
    quantity, _ = position_size(RiskRules(max_position_size=D("0.1")), Account(CAPITAL), D(0))
    assert quantity == 0


# Stop-loss and take-profit prices


def test_protective_prices_are_fractions_of_the_entry_price():
    stop, take = protective_prices(RiskRules(stop_loss=D("0.02"), take_profit=D("0.05")), D(100))
    assert (stop, take) == (D(98), D(105))


def test_protective_prices_are_rounded_half_up_to_the_hundredth_of_a_cent():
    # 12.345 * 0.97 = 11.97465 -> 11.9747; 12.345 * 1.05 = 12.96225 -> 12.9623.
    stop, take = protective_prices(RiskRules(stop_loss=D("0.03"), take_profit=D("0.05")), D("12.345"))
    assert (stop, take) == (D("11.9747"), D("12.9623"))


def test_null_stop_loss_and_take_profit_set_no_prices():
    assert protective_prices(RiskRules(), D(100)) == (None, None)


# Triggers within a bar


def test_a_bar_whose_low_reaches_the_stop_triggers_the_stop_loss():
    assert exit_trigger(holding(), low=D(98), high=D(101)).startswith("stop-loss")


def test_a_gap_straight_through_the_stop_still_triggers_it():
    assert exit_trigger(holding(), low=D(50), high=D(60)).startswith("stop-loss")


def test_a_bar_whose_high_reaches_the_target_triggers_the_take_profit():
    assert exit_trigger(holding(), low=D(101), high=D(105)).startswith("take-profit")


def test_a_bar_between_stop_and_target_triggers_nothing():
    assert exit_trigger(holding(), low=D("98.01"), high=D("104.99")) is None


def test_a_bar_spanning_both_stop_and_target_counts_as_the_stop():
    assert exit_trigger(holding(), low=D(97), high=D(106)).startswith("stop-loss")


def test_a_holding_without_protective_prices_never_triggers():
    assert exit_trigger(holding(stop=None, take=None), low=D(1), high=D(1000)) is None


# Daily loss and daily target


@pytest.mark.parametrize(
    ("realized", "unrealized", "halted"),
    [
        ("-600", "-400", True),  # -1000 reaches 10% of 10000
        ("0", "-1000", True),  # an open loss counts as much as a closed one
        ("-1200", "0", True),
        ("-600", "-399.99", False),
        ("-1500", "600", False),  # -900 net
    ],
)
def test_max_daily_loss_counts_realized_today_plus_the_open_positions_change_today(realized, unrealized, halted):
    account = Account(CAPITAL, today_realized_pnl=D(realized), open_change_today=D(unrealized))
    reason = daily_halt(RiskRules(max_daily_loss=D("0.1")), account)
    assert (reason is not None) == halted
    if halted:
        assert "max daily loss" in reason


@pytest.mark.parametrize(("realized", "halted"), [("500", True), ("499.99", False), ("800", True)])
def test_daily_target_halts_entries_once_reached(realized, halted):
    account = Account(CAPITAL, today_realized_pnl=D(realized))
    reason = daily_halt(RiskRules(daily_target=D("0.05")), account)
    assert (reason is not None) == halted
    if halted:
        assert "daily target" in reason


def test_a_halt_refuses_entries():
    account = Account(CAPITAL, today_realized_pnl=D(-1000))
    assert "max daily loss" in entry_refusal(RiskRules(max_daily_loss=D("0.1")), account)


# Counts


def test_max_positions_refuses_an_entry_once_reached():
    rules = RiskRules(max_positions=3)
    assert entry_refusal(rules, Account(CAPITAL, open_positions=2)) is None
    assert "max open positions" in entry_refusal(rules, Account(CAPITAL, open_positions=3))


def test_max_daily_trades_refuses_an_entry_once_reached():
    rules = RiskRules(max_daily_trades=2)
    assert entry_refusal(rules, Account(CAPITAL, entries_today=1)) is None
    assert "max daily trades" in entry_refusal(rules, Account(CAPITAL, entries_today=2))


# Null disables every rule


def test_with_every_rule_null_nothing_refuses_or_halts():
    account = Account(
        CAPITAL, today_realized_pnl=D(-9000), open_change_today=D(-900), open_positions=500, entries_today=500
    )
    assert daily_halt(RiskRules(), account) is None
    assert entry_refusal(RiskRules(), account) is None
    assert daily_halt(RiskRules(), Account(CAPITAL, today_realized_pnl=D(50000))) is None
