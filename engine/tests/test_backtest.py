"""The backtester on hand-computed series: fills, exits, the window, the shared account, daily limits, stats."""

import dataclasses
from datetime import time, timedelta
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from engine import backtest, signals, stats, strategy
from engine.backtest import run_backtest
from engine.config import BotConfig
from engine.risk import Account, Holding

DAY_1 = "2024-01-02 14:30"  # 09:30 in New York (EST)
DAY_2 = "2024-01-03 14:30"


def frame(*rows, start=DAY_1, freq="1min") -> pd.DataFrame:
    """Bars from (open, high, low, close[, signal]) rows; signal is "buy", "sell" or absent."""
    index = pd.date_range(start, periods=len(rows), freq=freq, tz="UTC", name="time")
    data = pd.DataFrame([row[:4] for row in rows], columns=["open", "high", "low", "close"], index=index, dtype=float)
    data["volume"] = 1000.0
    data["entry"] = [len(row) > 4 and row[4] == "buy" for row in rows]
    data["exit"] = [len(row) > 4 and row[4] == "sell" for row in rows]
    return data


def flat(price, signal=None):
    return (price, price, price, price) + ((signal,) if signal else ())


def config(**overrides) -> BotConfig:
    risk = {"max_position_size": 0.5, "stop_loss": None, "take_profit": None, **overrides.pop("risk", {})}
    data = {
        "name": "test",
        "capital": 1000,
        "symbols": ["AAA"],
        "indicators": {"SMA": {"period": 2}},
        "signal_mode": "any",
        "risk_management": risk,
        "start_hour": 0,
        "start_minute": 0,
        "end_hour": 23,
        "end_minute": 59,
        **overrides,
    }
    return BotConfig.model_validate(data)


def run(bars, cfg=None, *, capital=1000, slippage="0", commission="0", timeframe="1Min"):
    bars = bars if isinstance(bars, dict) else {"AAA": bars}
    return run_backtest(
        bars, cfg or config(), capital=D(capital), slippage=D(slippage), commission=D(commission), timeframe=timeframe
    )


def sides(result):
    return [(t.symbol, t.side, t.quantity, t.price) for t in result.trades]


@pytest.fixture
def scripted(monkeypatch):
    """Entry and exit signals read from the bars' entry / exit columns instead of the indicators' votes."""

    def evaluate(bars, indicators, mode):
        real = signals.evaluate(bars, indicators, mode)
        return dataclasses.replace(
            real,
            ready=np.ones(len(bars), dtype=bool),
            entry=bars["entry"].to_numpy(dtype=bool),
            exit=bars["exit"].to_numpy(dtype=bool),
        )

    monkeypatch.setattr(backtest, "evaluate", evaluate)


# Fills


def test_a_buy_fills_at_the_next_open_plus_slippage_and_commission_and_stays_open_at_the_end():
    # SMA(2) votes buy when the close rises: bar 1 (11 > 10.5) is the entry signal.
    bars = frame((10, 10, 10, 10), (10, 11, 10, 11), (12, 12, 11, 11), (11, 11, 11, 11))
    result = run(bars, slippage="0.01", commission="1")

    (buy,) = result.trades
    # 500 // 11 shares at 12 × 1.01
    assert (buy.side, buy.quantity, buy.price, buy.commission) == ("buy", 45, D("12.1200"), D(1))
    assert buy.timestamp == bars.index[2] and buy.bar_time == bars.index[1]
    assert buy.profit_loss is None
    (position,) = result.open_positions
    assert (position.quantity, position.entry_price, position.last_price) == (45, D("12.12"), D(11))
    assert position.market_value == D(495)
    assert position.unrealized_pnl == D("-51.40")  # 495 - (45 × 12.12 + 1)
    assert result.stats["final_equity"] == D("948.60")
    assert result.stats["return_pct"] == D("-5.14")
    assert result.stats["trades"] == 0 and result.stats["open_positions"] == 1
    assert result.stats["exposure_time_pct"] == 50.0
    assert result.equity_curve.equity.tolist() == pytest.approx([1000, 1000, 948.6, 948.6])
    assert result.equity_curve.drawdown.tolist() == pytest.approx([0, 0, -0.0514, -0.0514])


def test_a_sell_carries_the_round_trip_profit_loss_after_both_commissions(scripted):
    bars = frame(flat(10, "buy"), flat(10), flat(12, "sell"), (11, 11, 11, 11))
    result = run(bars, slippage="0.01", commission="1")

    buy, sell = result.trades
    assert (buy.price, sell.price) == (D("10.1000"), D("10.8900"))  # 10 × 1.01; 11 × 0.99
    assert buy.profit_loss is None
    assert sell.profit_loss == D("37.50")  # 50 × (10.89 - 10.10) - 1 - 1
    assert result.stats["final_equity"] == D("1037.50")


def test_a_decision_on_the_last_bar_has_nothing_to_fill_at(scripted):
    result = run(frame(flat(10), flat(10), flat(10, "buy")))
    assert result.trades == [] and result.open_positions == []


def test_entry_signals_while_holding_are_ignored(scripted):
    result = run(frame(*[flat(10, "buy")] * 5))
    assert sides(result) == [("AAA", "buy", 50, D(10))]


# Exits


def test_the_stop_loss_sells_at_the_stop_inside_the_bar_whose_low_reaches_it(scripted):
    bars = frame(flat(10, "buy"), flat(10), (10, 10, 9.5, 10), (10, 10, 8.8, 9.5), flat(9.2), flat(9.2))
    result = run(bars, config(risk={"stop_loss": 0.1}), slippage="0.01", commission="1")  # filled 10.10: stop 9.09

    buy, sell = result.trades
    assert sell.reason == "stop-loss: 8.8000 reached the stop at 9.0900"
    # 9.09 × 0.99, on the bar that reached it: the live exit watcher sells on the trade through the stop.
    assert (sell.quantity, sell.price, sell.bar_time, sell.timestamp) == (50, D("8.9991"), bars.index[3], bars.index[3])
    assert sell.profit_loss == D("-57.0450")  # 50 × (8.9991 - 10.10) - 1 - 1
    assert result.open_positions == []


def test_a_bar_opening_beyond_the_stop_sells_at_its_open(scripted):
    bars = frame(flat(10, "buy"), flat(10), (8.5, 9.5, 8.2, 9), flat(9))
    result = run(bars, config(risk={"stop_loss": 0.1}))
    assert (result.trades[1].price, result.trades[1].bar_time) == (D("8.5000"), bars.index[2])


def test_the_bar_of_the_entrys_fill_is_watched_too(scripted):
    bars = frame(flat(10, "buy"), (10, 10.2, 8.9, 9.5), flat(9.5))
    result = run(bars, config(risk={"stop_loss": 0.1}))
    assert [(t.side, t.price, t.bar_time) for t in result.trades] == [
        ("buy", D(10), bars.index[0]),
        ("sell", D(9), bars.index[1]),
    ]


def test_the_take_profit_sells_at_the_target_inside_the_bar_whose_high_reaches_it(scripted):
    bars = frame(flat(10, "buy"), flat(10), (10, 10.4, 10, 10), (10, 10.8, 10, 10.6), flat(10.6))
    result = run(bars, config(risk={"take_profit": 0.05}))  # target 10.5000

    sell = result.trades[1]
    assert sell.reason.startswith("take-profit: 10.8000 reached the target at 10.5000")
    assert (sell.price, sell.bar_time, sell.profit_loss) == (D("10.5000"), bars.index[3], D("25.0000"))


def test_a_bar_reaching_both_the_stop_and_the_target_takes_the_stop(scripted):
    bars = frame(flat(10, "buy"), flat(10), (10, 11, 8.5, 10), flat(10))
    result = run(bars, config(risk={"stop_loss": 0.1, "take_profit": 0.05}))
    assert (result.trades[1].price, result.trades[1].reason[:9]) == (D(9), "stop-loss")


def test_a_position_stopped_out_inside_a_bar_may_be_entered_again_on_its_close(scripted):
    bars = frame(flat(10, "buy"), flat(10), (10, 10, 8.8, 9.5, "buy"), flat(9.5), flat(9.5))
    result = run(bars, config(risk={"stop_loss": 0.1}))
    assert [(t.side, t.bar_time) for t in result.trades] == [
        ("buy", bars.index[0]),
        ("sell", bars.index[2]),
        ("buy", bars.index[2]),
    ]


def test_an_exit_signal_sells(scripted):
    result = run(frame(flat(10, "buy"), flat(10), flat(11), flat(11, "sell"), flat(12)))
    assert sides(result) == [("AAA", "buy", 50, D(10)), ("AAA", "sell", 50, D(12))]
    assert result.trades[1].reason.startswith("sell signal")


# The trading window


@pytest.mark.parametrize(
    ("signal_at", "trades"),
    [("09:28", False), ("09:29", True), ("09:31", True), ("09:32", False)],
    ids=["closes-09:29-before", "closes-09:30-at-start", "closes-09:32-inside", "closes-09:33-at-end"],
)
def test_only_bars_closing_inside_the_window_are_decided_on(scripted, signal_at, trades):
    opens = ["09:28", "09:29", "09:30", "09:31", "09:32", "09:33", "09:34"]
    rows = [flat(10, "buy" if moment == signal_at else None) for moment in opens]
    window = {"start_hour": 9, "start_minute": 30, "end_hour": 9, "end_minute": 33}
    result = run(frame(*rows, start="2024-01-02 14:28"), config(**window))
    assert bool(result.trades) is trades


def test_stops_are_watched_outside_the_window_while_the_market_is_open(scripted):
    # Window 09:30-09:33: buy on the bar closing 09:30, fill at 09:30; the stop is crossed on the bar opening 09:33.
    rows = [flat(10), flat(10, "buy"), flat(10), flat(10), flat(10), (10, 10, 8, 10), flat(10)]
    window = {"start_hour": 9, "start_minute": 30, "end_hour": 9, "end_minute": 33}
    bars = frame(*rows, start="2024-01-02 14:28")
    result = run(bars, config(**window, risk={"stop_loss": 0.1}))
    assert [(t.side, t.price, t.bar_time) for t in result.trades] == [
        ("buy", D(10), bars.index[1]),
        ("sell", D(9), bars.index[5]),
    ]


def test_an_hour_bar_opening_before_the_bell_is_watched_for_its_half_hour_of_session(scripted):
    # 08:00 bar decided at its 09:00 close (window 07:00-09:01), filled at 09:00; that bar reaches the stop.
    rows = [flat(10, "buy"), (10, 10, 8.5, 9), flat(9)]
    window = {"start_hour": 7, "start_minute": 0, "end_hour": 9, "end_minute": 1}
    bars = frame(*rows, start="2024-01-02 13:00", freq="1h")
    result = run(bars, config(**window, risk={"stop_loss": 0.1}), timeframe="1Hour")
    assert [(t.side, t.price, t.bar_time) for t in result.trades] == [
        ("buy", D(10), bars.index[0]),
        ("sell", D(9), bars.index[1]),
    ]


def test_stops_are_not_acted_on_outside_the_window_while_the_market_is_closed(scripted):
    # 16:00 onwards in New York: the session is over and the window (00:00-16:01) leaves it to the watcher.
    rows = [flat(10, "buy"), flat(10), (10, 10, 8, 10), flat(10)]
    window = {"start_hour": 0, "start_minute": 0, "end_hour": 16, "end_minute": 1}
    result = run(frame(*rows, start="2024-01-02 20:59"), config(**window, risk={"stop_loss": 0.1}))
    assert [t.side for t in result.trades] == ["buy"]
    assert len(result.open_positions) == 1


def test_the_window_is_read_on_the_new_york_clock_at_each_bars_close_across_dst():
    times = pd.date_range("2024-03-09 00:00", "2024-03-12 00:00", freq="5min", tz="UTC").append(
        pd.date_range("2024-11-02 00:00", "2024-11-05 00:00", freq="5min", tz="UTC")
    )
    cfg = config(start_hour=1, start_minute=30, end_hour=3, end_minute=5)
    clock = backtest._Clock([times], cfg, timedelta(minutes=5), daily=False)
    expected = [strategy.in_window(moment + timedelta(minutes=5), time(1, 30), time(3, 5)) for moment in times]
    assert clock.in_window.tolist() == expected


def test_daily_bars_are_each_decided_on_whatever_the_window(scripted):
    bars = frame(flat(10, "buy"), flat(10), flat(11, "sell"), flat(12), start="2024-01-02 05:00", freq="1D")
    result = run(bars, config(start_hour=9, start_minute=30, end_hour=12, end_minute=0), timeframe="1Day")
    assert sides(result) == [("AAA", "buy", 50, D(10)), ("AAA", "sell", 50, D(12))]


# One account for all symbols


def test_symbols_share_the_cash_in_the_configured_order(scripted):
    bars = {"AAA": frame(flat(10, "buy"), flat(10), flat(10)), "BBB": frame(flat(10, "buy"), flat(10), flat(10))}
    result = run(bars, config(symbols=["BBB", "AAA"], risk={"max_position_size": 0.6}))

    assert sides(result) == [("BBB", "buy", 60, D(10)), ("AAA", "buy", 40, D(10))]  # 1000 × 0.6 / 10; then 400 left
    assert "limited by cash left" in result.trades[1].reason


def test_max_positions_counts_every_symbol(scripted):
    bars = {"AAA": frame(flat(10, "buy"), flat(10), flat(10)), "BBB": frame(flat(10, "buy"), flat(10), flat(10))}
    result = run(bars, config(symbols=["AAA", "BBB"], risk={"max_positions": 1}))
    assert sides(result) == [("AAA", "buy", 50, D(10))]


def test_a_freed_position_slot_lets_the_next_entry_signal_in(scripted):
    aaa = frame(flat(10, "buy"), flat(10), flat(10, "sell"), flat(10), flat(10), flat(10))
    bbb = frame(flat(20, "buy"), flat(20, "buy"), flat(20, "buy"), flat(20, "buy"), flat(20, "buy"), flat(20))
    result = run({"AAA": aaa, "BBB": bbb}, config(symbols=["AAA", "BBB"], risk={"max_positions": 1}))
    # AAA's sell, decided on bar 2 before BBB's turn, frees the slot for BBB on that same bar.
    assert [(t.symbol, t.side, t.bar_time) for t in result.trades] == [
        ("AAA", "buy", aaa.index[0]),
        ("AAA", "sell", aaa.index[2]),
        ("BBB", "buy", bbb.index[2]),
    ]


def test_entries_wait_for_a_close_the_cash_left_can_buy_a_share_at(scripted):
    bars = frame(flat(150, "buy"), flat(120, "buy"), flat(99, "buy"), flat(90, "buy"), flat(90))
    result = run(bars, config(risk={"max_position_size": 1}), capital=100)
    assert [(t.side, t.quantity, t.bar_time) for t in result.trades] == [("buy", 1, bars.index[2])]


def test_max_daily_trades_waits_for_the_next_day(scripted):
    day_1 = frame(flat(10, "buy"), flat(10, "sell"), flat(10, "buy"), flat(10, "buy"), flat(10))
    day_2 = frame(flat(10, "buy"), flat(10), start=DAY_2)
    result = run(pd.concat([day_1, day_2]), config(risk={"max_daily_trades": 1}))
    assert [(t.side, t.bar_time) for t in result.trades] == [
        ("buy", day_1.index[0]),
        ("sell", day_1.index[1]),
        ("buy", day_2.index[0]),
    ]


def test_decide_gets_the_account_and_holding_the_live_tick_would_pass(scripted, monkeypatch):
    calls = []

    def recording(**inputs):
        calls.append(inputs)
        return strategy.decide(**inputs)

    monkeypatch.setattr(backtest, "decide", recording)
    bars = frame(flat(10, "buy"), flat(10), (11, 11.5, 10.5, 11, "sell"), flat(11))
    run(bars, config(risk={"stop_loss": 0.1, "take_profit": 0.2}), slippage="0.01", commission="1")

    entry, exit_ = calls
    assert entry["account"] == Account(capital=D(1000))
    assert (entry["bar"].close, entry["holding"], entry["may_enter"]) == (D(10), None, True)
    # Filled at 10 × 1.01 = 10.10: cost 50 × 10.10 + 1; stop and target from the fill price.
    assert exit_["holding"] == Holding("AAA", 50, D("10.1000"), D("9.0900"), D("12.1200"))
    # Bought today: its change today is from its cost, 50 × 11 - 506.
    assert exit_["account"] == Account(
        capital=D(1000), open_cost=D("506.0000"), open_positions=1, open_change_today=D("44.0000"), entries_today=1
    )
    assert (exit_["bar"].low, exit_["bar"].high, exit_["bar"].close) == (D("10.5"), D("11.5"), D(11))
    assert exit_["bar"].time == bars.index[2]


def test_a_symbol_deciding_later_in_the_same_bar_time_sees_the_earlier_order(scripted, monkeypatch):
    accounts = []

    def recording(**inputs):
        accounts.append(inputs["account"])
        return strategy.decide(**inputs)

    monkeypatch.setattr(backtest, "decide", recording)
    bars = {"AAA": frame(flat(10, "buy"), flat(11)), "BBB": frame(flat(20, "buy"), flat(20))}
    run(bars, config(symbols=["AAA", "BBB"], risk={"max_position_size": 0.3}), commission="1")
    # As the live tick after a fill: the buy's cost counts (here at the decision close), it is not marked yet.
    assert accounts[1] == Account(capital=D(1000), open_cost=D(301), open_positions=1, entries_today=1)


def test_a_symbol_with_fewer_bars_fills_at_its_own_next_bar(scripted):
    aaa = frame(flat(10), flat(10), flat(10), flat(10), flat(10))
    bbb = frame(flat(20, "buy"), flat(21), flat(22)).set_axis(aaa.index[[1, 3, 4]])
    result = run({"AAA": aaa, "BBB": bbb}, config(symbols=["AAA", "BBB"]))
    (buy,) = result.trades
    assert (buy.symbol, buy.price, buy.timestamp) == ("BBB", D(21), aaa.index[3])
    # 25 shares of BBB (500 // 20) from the fill on, valued at BBB's last close at each bar time.
    assert result.equity_curve.equity.tolist() == pytest.approx([1000, 1000, 1000, 1000, 1025])


# Daily limits


def test_a_realized_daily_loss_halts_entries_for_the_rest_of_the_day_and_the_next_day_resumes(scripted):
    # The sell decided at 10 fills at a 9.5 open: a 25 loss, past the 20 limit, known from that bar on.
    day_1 = frame(flat(10, "buy"), flat(10), flat(10, "sell"), flat(9.5, "buy"), flat(9.5, "buy"), flat(9.5))
    day_2 = frame(flat(9.5, "buy"), flat(9.5), start=DAY_2)
    result = run(pd.concat([day_1, day_2]), config(risk={"max_daily_loss": 0.02}))

    assert [(t.side, t.bar_time) for t in result.trades] == [
        ("buy", day_1.index[0]),
        ("sell", day_1.index[2]),
        ("buy", day_2.index[0]),  # the day-1 entry signals after the loss were not taken
    ]
    assert result.trades[1].profit_loss == D("-25.0000")
    assert result.trades[2].quantity == 52  # 500 // 9.5


def test_an_unrealized_loss_halts_entries_for_the_day_even_after_it_recovers(scripted):
    # AAA is held without any event while its close dips to 9.5 (-25, past the 20 limit) and comes back.
    aaa = frame(flat(10, "buy"), flat(10), flat(9.5), flat(10), flat(10), flat(10))
    bbb = frame(flat(20), flat(20), flat(20), flat(20), flat(20, "buy"), flat(20))
    bbb_next_day = frame(flat(20, "buy"), flat(20), start=DAY_2)
    aaa_next_day = frame(flat(10), flat(10), start=DAY_2)
    cfg = config(symbols=["AAA", "BBB"], risk={"max_daily_loss": 0.02, "max_position_size": 0.4})
    result = run({"AAA": pd.concat([aaa, aaa_next_day]), "BBB": pd.concat([bbb, bbb_next_day])}, cfg)

    assert [(t.symbol, t.side, t.bar_time) for t in result.trades] == [
        ("AAA", "buy", aaa.index[0]),
        ("BBB", "buy", bbb_next_day.index[0]),
    ]


def test_a_loss_made_before_today_does_not_count_against_todays_limit(scripted):
    # AAA, bought on day 1 at 10, closes day 1 at 9 (-50, past the 20 limit, so day 1 halts). Day 2 opens
    # at 9 and holds there: today's change is 0, so BBB's entry on day 2 is taken.
    aaa = frame(flat(10, "buy"), flat(10), flat(9), flat(9))
    aaa_next_day = frame(flat(9), flat(9), flat(9), flat(9), start=DAY_2)
    bbb = frame(flat(20), flat(20), flat(20), flat(20))
    bbb_next_day = frame(flat(20), flat(20, "buy"), flat(20), flat(20), start=DAY_2)
    cfg = config(symbols=["AAA", "BBB"], risk={"max_daily_loss": 0.02, "max_position_size": 0.4})
    result = run({"AAA": pd.concat([aaa, aaa_next_day]), "BBB": pd.concat([bbb, bbb_next_day])}, cfg)
    assert [(t.symbol, t.side, t.bar_time) for t in result.trades] == [
        ("AAA", "buy", aaa.index[0]),
        ("BBB", "buy", bbb_next_day.index[1]),
    ]


def test_an_overnight_position_counts_from_todays_open(scripted):
    # Day 2 opens at 9.8 and AAA falls to 9.3: 40 × -0.5 = -20 today, the limit, though it was -28 overall.
    aaa = frame(flat(10, "buy"), flat(10), flat(9.5), flat(9.5))
    aaa_next_day = frame(flat(9.8), flat(9.3), flat(9.3), flat(9.3), start=DAY_2)
    bbb = frame(flat(20), flat(20), flat(20), flat(20))
    bbb_next_day = frame(flat(20), flat(20), flat(20, "buy"), flat(20), start=DAY_2)
    cfg = config(symbols=["AAA", "BBB"], risk={"max_daily_loss": 0.02, "max_position_size": 0.4})
    result = run({"AAA": pd.concat([aaa, aaa_next_day]), "BBB": pd.concat([bbb, bbb_next_day])}, cfg)
    assert [(t.symbol, t.side) for t in result.trades] == [("AAA", "buy")]


def test_without_the_dip_the_same_entry_is_taken(scripted):
    aaa = frame(flat(10, "buy"), flat(10), flat(9.7), flat(10), flat(10), flat(10))
    bbb = frame(flat(20), flat(20), flat(20), flat(20), flat(20, "buy"), flat(20))
    cfg = config(symbols=["AAA", "BBB"], risk={"max_daily_loss": 0.02, "max_position_size": 0.4})
    result = run({"AAA": aaa, "BBB": bbb}, cfg)
    assert [(t.symbol, t.side) for t in result.trades] == [("AAA", "buy"), ("BBB", "buy")]


def test_the_daily_target_halts_entries_for_the_day(scripted):
    bars = frame(flat(10, "buy"), flat(10), flat(11, "sell"), flat(11, "buy"), flat(11))
    result = run(bars, config(risk={"daily_target": 0.05}))  # target 50; the round trip made 50
    assert [t.side for t in result.trades] == ["buy", "sell"]


# Skipping bars where nothing can happen changes nothing


def _every_bar(monkeypatch):
    """Make the loop visit every bar (decide() on each bar in the window, the daily limits on each bar time)."""

    def first(mask, start):
        found = np.flatnonzero(mask[start:])
        return start + int(found[0]) if found.size else mask.size

    def next_entry(book, start):
        return first(book.market.window, start)

    def next_exit(book):  # stops and targets are watched in the session too
        return first(book.market.window | book.market.session, book.resume)

    monkeypatch.setattr(backtest._Run, "_next_entry_candidate", lambda self, book, start: next_entry(book, start))
    monkeypatch.setattr(backtest._Run, "_next_exit_candidate", lambda self, book: next_exit(book))
    monkeypatch.setattr(backtest._Run, "_daily_limit_candidate", lambda self, start, stop: min(start, stop))


def _random_bars(rng, start, count):
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.004, count)))
    open_ = np.concatenate(([close[0]], close[:-1])) * (1 + rng.normal(0, 0.001, count))
    spread = np.abs(rng.normal(0, 0.003, (2, count)))
    index = pd.date_range(start, periods=count, freq="1min", tz="UTC", name="time")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + spread[0]),
            "low": np.minimum(open_, close) * (1 - spread[1]),
            "close": close,
            "volume": 1000.0,
        },
        index=index,
    ).round(2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_event_driven_loop_trades_exactly_as_deciding_on_every_bar(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    days = [_random_bars(rng, f"2024-01-0{day} 14:00", 420) for day in (2, 3, 4)]
    bars = {symbol: pd.concat([d.assign(close=d.close * (1 + k / 10)) for d in days]) for k, symbol in enumerate("ABC")}
    bars["C"] = bars["C"].iloc[rng.permutation(len(bars["C"]))[: len(bars["C"]) // 2]].sort_index()  # gaps
    cfg = config(
        symbols=["A", "B", "C"],
        indicators={"RSI": {"period": 5, "oversold": 40, "overbought": 60}, "SMA": {"period": 5}},
        start_hour=9,
        start_minute=45,
        end_hour=15,
        end_minute=30,
        risk={
            "max_position_size": 0.4,
            "stop_loss": 0.004,
            "take_profit": 0.006,
            "max_daily_loss": 0.01,
            "max_positions": 2,
        },
    )
    costs = {"capital": 1000, "slippage": "0.001", "commission": "1"}
    fast = run(bars, cfg, **costs)
    _every_bar(monkeypatch)
    slow = run(bars, cfg, **costs)

    assert len(fast.trades) > 20
    assert fast.trades == slow.trades
    assert fast.stats == slow.stats


# The signal the loop reads


def test_signal_at_reports_every_bars_values_and_votes_as_the_series_hold_them():
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, 300))
    bars = pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": rng.uniform(50, 150, 300)},
        index=pd.date_range(DAY_1, periods=300, freq="1min", tz="UTC"),
    )
    indicators = config(indicators={"RSI": {"period": 5}, "MACD": {}, "BBANDS": {}, "VOLUME_SMA": {"period": 5}})
    evaluation = signals.evaluate(bars, indicators.indicator_params(), "majority")
    names = {1.0: "buy", -1.0: "sell", 0.0: "none"}
    for i in range(len(bars)):
        signal = signals.signal_at(evaluation, i)
        expected = {
            f"{name}.{key}": round(float(series.iloc[i]), 6)
            for name, values in evaluation.values.items()
            for key, series in values.items()
            if not np.isnan(series.iloc[i])
        }
        assert signal.snapshot == {"close": round(float(close[i]), 6), **expected}
        for name, series in evaluation.votes.items():
            assert signal.votes[name] == ("warming up" if np.isnan(series.iloc[i]) else names[float(series.iloc[i])])


def test_progress_rises_to_one():
    fractions = []
    bars = frame(*[flat(10 + i % 3) for i in range(300)])
    run_backtest(
        {"AAA": bars},
        config(),
        capital=D(1000),
        slippage=D(0),
        commission=D(0),
        timeframe="1Min",
        progress=fractions.append,
    )
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 3


# Statistics


def test_stats_on_a_known_trade_list():
    pnls = [D(10), D(-5), D(20), D(-10)]
    assert stats.win_rate_pct(pnls) == 50.0
    assert stats.profit_factor(pnls) == 2.0  # 30 / 15
    assert stats.expectancy(pnls) == D("3.75")
    assert stats.profit_factor([D(1)]) is None and stats.win_rate_pct([]) is None


def test_max_drawdown_is_the_deepest_fall_from_a_peak():
    equity = np.array([100.0, 120.0, 90.0, 130.0, 65.0, 70.0])
    assert stats.max_drawdown_pct(equity) == pytest.approx(-50.0)  # 130 -> 65
    assert stats.drawdown(equity).tolist() == pytest.approx([0, 0, -0.25, 0, -0.5, 70 / 130 - 1])


def test_sharpe_and_sortino_are_annualised_from_daily_returns():
    returns = stats.period_returns(100.0, np.array([101.0, 99.99, 101.9898]))  # +1%, -1%, +2%
    assert returns.tolist() == pytest.approx([0.01, -0.01, 0.02])
    mean = 0.02 / 3
    assert stats.sharpe_ratio(returns) == pytest.approx(mean / np.std([0.01, -0.01, 0.02], ddof=1) * 252**0.5)
    assert stats.sortino_ratio(returns) == pytest.approx(mean / (0.01**2 / 3) ** 0.5 * 252**0.5)  # ≈ 18.33
    assert stats.sharpe_ratio(np.array([0.01])) is None
