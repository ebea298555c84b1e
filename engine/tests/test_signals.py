"""Combining votes into entries and exits: signal modes, readiness, conflicts, the volume confirmation."""

import math

import numpy as np
import pandas as pd
import pytest

from engine.indicators import BUY, NONE, REGISTRY, SELL
from engine.signals import combine, evaluate, signal_at
from engine.tests.series import bars

nan = math.nan
B, S, N = BUY, SELL, NONE


def with_votes(mode: str, **columns: list[float]):
    """Evaluate prescribed per-bar votes (and VOLUME_SMA confirmations) instead of computed ones.

    The indicator names are real registry names, so each counts as a vote or a confirmation as it would live.
    """
    length = len(next(iter(columns.values())))
    history = bars([100] * length)

    def compute(name, params):
        return {}, pd.Series(columns[name], dtype=float)

    params = {name: REGISTRY[name].params(**({"period": 5} if name in ("SMA", "EMA") else {})) for name in columns}
    return evaluate(history, params, mode, compute)


def entries(evaluation) -> list[bool]:
    return evaluation.entry.tolist()


def exits(evaluation) -> list[bool]:
    return evaluation.exit.tolist()


# Signal modes


def test_all_mode_enters_only_when_every_indicator_votes_buy():
    ev = with_votes("all", RSI=[B, B, B, N], MACD=[B, N, S, B], SMA=[B, B, N, B])
    assert entries(ev) == [True, False, False, False]


def test_all_mode_exits_only_when_every_indicator_votes_sell():
    ev = with_votes("all", RSI=[S, S, S], MACD=[S, N, S], SMA=[S, S, B])
    assert exits(ev) == [True, False, False]


def test_any_mode_enters_on_a_single_buy_vote():
    ev = with_votes("any", RSI=[B, N, N], MACD=[N, N, N], SMA=[N, N, B])
    assert entries(ev) == [True, False, True]


def test_any_mode_exits_on_a_single_sell_vote():
    ev = with_votes("any", RSI=[S, N, N], MACD=[N, N, N], SMA=[N, N, S])
    assert exits(ev) == [True, False, True]


def test_majority_mode_enters_when_more_than_half_vote_buy():
    ev = with_votes("majority", RSI=[B, B, B], MACD=[B, B, N], SMA=[B, N, N])
    assert entries(ev) == [True, True, False]  # 3 of 3, 2 of 3, 1 of 3


def test_majority_mode_two_of_four_is_a_tie_not_a_majority():
    ev = with_votes("majority", RSI=[B, B, S], MACD=[B, B, S], SMA=[N, B, N], EMA=[N, N, N])
    assert entries(ev) == [False, True, False]  # 2 of 4, 3 of 4, 0 of 4
    assert exits(ev) == [False, False, False]  # the 2 sells of 4 on the last bar are a tie too


def test_majority_mode_exits_when_more_than_half_vote_sell():
    ev = with_votes("majority", RSI=[S, S], MACD=[S, N], SMA=[S, S], EMA=[N, S])
    assert exits(ev) == [True, True]


def test_a_single_indicator_decides_alone_in_every_mode():
    for mode in ("all", "any", "majority"):
        ev = with_votes(mode, RSI=[B, N, S])
        assert entries(ev) == [True, False, False], mode
        assert exits(ev) == [False, False, True], mode


def test_an_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown signal mode"):
        combine(np.array([1]), 1, "most")


# Conflicts


def test_buy_and_sell_both_true_under_any_mode_is_no_entry_but_an_exit():
    ev = with_votes("any", RSI=[S], MACD=[B])
    assert entries(ev) == [False]
    assert exits(ev) == [True]


# Warming up: NaN never votes


def test_a_bar_with_any_indicator_warming_up_is_not_ready_and_decides_nothing():
    ev = with_votes("any", RSI=[nan, nan, B], MACD=[nan, B, B])
    assert ev.ready.tolist() == [False, False, True]
    assert entries(ev) == [False, False, True]


def test_a_warming_up_indicator_does_not_count_as_a_vote_against_either():
    # Under 'all', if NaN were ignored the lone MACD buy on bar 0 would be "all of the votes".
    ev = with_votes("all", RSI=[nan, S], MACD=[B, S])
    assert entries(ev) == [False, False]
    assert exits(ev) == [False, True]


# VOLUME_SMA confirms entries, never exits


def test_volume_sma_gates_entries():
    ev = with_votes("any", RSI=[B, B], VOLUME_SMA=[1, 0])
    assert entries(ev) == [True, False]


def test_volume_sma_is_not_a_vote_so_it_does_not_dilute_a_majority():
    ev = with_votes("majority", RSI=[B], MACD=[B], SMA=[N], VOLUME_SMA=[1])
    assert entries(ev) == [True]  # 2 buys of 3 voters, not 2 of 4


def test_volume_sma_never_blocks_an_exit():
    ev = with_votes("any", RSI=[S, S], VOLUME_SMA=[0, 1])
    assert exits(ev) == [True, True]


def test_volume_sma_still_warming_up_does_not_block_an_exit():
    # The votes are computable on every bar; only the confirmation's longer look-back is still filling.
    ev = with_votes("any", RSI=[S, B], VOLUME_SMA=[nan, nan])
    assert exits(ev) == [True, False]
    assert entries(ev) == [False, False]


# With the real indicators


def test_a_rising_series_under_any_mode_conflicts_rsi_sell_against_sma_buy():
    history = bars([1, 2, 3, 4, 5, 6])
    params = {"RSI": REGISTRY["RSI"].params(period=3), "SMA": REGISTRY["SMA"].params(period=3)}
    ev = evaluate(history, params, "any")
    # RSI = 100 (no losses) sells; the close is above its rising 3-bar average: SMA buys.
    assert ev.votes["RSI"].tolist()[-1] == SELL and ev.votes["SMA"].tolist()[-1] == BUY
    assert entries(ev)[-1] is False
    assert exits(ev)[-1] is True


def test_a_rising_series_under_majority_enters_on_two_buys_of_three():
    history = bars([1, 2, 3, 4, 5, 6])
    params = {
        "RSI": REGISTRY["RSI"].params(period=3),
        "SMA": REGISTRY["SMA"].params(period=3),
        "EMA": REGISTRY["EMA"].params(period=3),
    }
    ev = evaluate(history, params, "majority")
    assert entries(ev) == [False, False, False, True, True, True]  # RSI votes from bar 3 on
    assert exits(ev) == [False] * 6


def test_volume_sma_confirms_a_real_entry_only_on_the_high_volume_bar():
    history = bars([1, 2, 3, 4, 5], volume=[100, 100, 100, 100, 400])
    params = {"SMA": REGISTRY["SMA"].params(period=2), "VOLUME_SMA": REGISTRY["VOLUME_SMA"].params(period=3)}
    ev = evaluate(history, params, "any")
    # SMA(2) buys from bar 1 on; VOLUME_SMA: bar 4's 400 > (100 + 100 + 400) / 3 = 200, bars 2-3 are level.
    assert entries(ev) == [False, False, False, False, True]


def test_fewer_bars_than_the_look_back_leave_everything_warming_up():
    params = {
        "RSI": REGISTRY["RSI"].params(),
        "MACD": REGISTRY["MACD"].params(),
        "SMA": REGISTRY["SMA"].params(period=50),
        "VOLUME_SMA": REGISTRY["VOLUME_SMA"].params(),
    }
    ev = evaluate(bars([10, 11, 12]), params, "any")
    assert not ev.ready.any() and not ev.entry.any() and not ev.exit.any()
    signal = signal_at(ev, -1)
    assert (signal.ready, signal.entry, signal.exit) == (False, False, False)
    assert set(signal.votes.values()) == {"warming up"}


# signal_at: one bar, with reasons


def test_signal_at_names_each_vote_and_snapshots_the_values_that_decided():
    history = bars([1, 2, 3, 4], volume=[100, 100, 100, 400])
    params = {
        "SMA": REGISTRY["SMA"].params(period=3),
        "RSI": REGISTRY["RSI"].params(period=3),
        "VOLUME_SMA": REGISTRY["VOLUME_SMA"].params(period=3, multiplier=3),
    }
    signal = signal_at(evaluate(history, params, "any"), -1)
    assert signal.votes == {"SMA": "buy", "RSI": "sell", "VOLUME_SMA": "does not confirm"}
    assert signal.reasons == ["SMA: buy", "RSI: sell", "VOLUME_SMA: does not confirm"]
    assert (signal.ready, signal.entry, signal.exit) == (True, False, True)
    assert signal.snapshot["close"] == 4
    assert signal.snapshot["SMA.average"] == 3
    assert signal.snapshot["RSI.rsi"] == 100
    assert signal.snapshot["VOLUME_SMA.volume_sma"] == 200


def test_signal_at_counts_a_negative_index_from_the_end_and_leaves_warm_up_values_out():
    history = bars([1, 2, 3, 2])
    ev = evaluate(history, {"SMA": REGISTRY["SMA"].params(period=3)}, "any")
    assert signal_at(ev, -2) == signal_at(ev, 2)
    assert signal_at(ev, -2).votes == {"SMA": "buy"}  # close 3 above (1 + 2 + 3) / 3 = 2
    assert signal_at(ev, -1).votes == {"SMA": "sell"}  # close 2 below (2 + 3 + 2) / 3
    first = signal_at(ev, 0)
    assert first.votes == {"SMA": "warming up"}
    assert "SMA.average" not in first.snapshot
