"""Each indicator's values and vote on series small enough to work out by hand.

Votes: BUY = 1, SELL = -1, NONE = 0, NaN = warming up (the look-back is not filled yet).
"""

import itertools
import math

import pytest
from pydantic import ValidationError

from engine.indicators import BUY, NONE, REGISTRY, SELL
from engine.tests.series import bars, run

nan = math.nan


def same(expected):
    """Equal to `expected` element by element, NaN matching NaN."""
    return pytest.approx(expected, nan_ok=True)


def wilder_rsi(closes, period):
    """RSI from its definition: Wilder's smoothing of gains and losses, seeded by their plain mean."""
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gain = sum(max(c, 0) for c in changes[:period]) / period
    loss = sum(max(-c, 0) for c in changes[:period]) / period
    out = [nan] * period + [100 * gain / (gain + loss)]
    for change in changes[period:]:
        gain = (gain * (period - 1) + max(change, 0)) / period
        loss = (loss * (period - 1) + max(-change, 0)) / period
        out.append(100 * gain / (gain + loss))
    return out


def ema_from(level, closes, period):
    """An exponential average already settled at `level`, then fed `closes` (alpha = 2 / (period + 1))."""
    alpha, average, out = 2 / (period + 1), level, []
    for close in closes:
        average += alpha * (close - average)
        out.append(average)
    return out


# RSI {period, oversold, overbought}


def test_rsi_is_100_on_a_strictly_rising_series_and_votes_sell_above_overbought():
    values, vote = run("RSI", bars([1, 2, 3, 4, 5, 6, 7]), period=3, oversold=30, overbought=70)
    # No losses at all: RSI = 100 * gain / (gain + 0) = 100, from the first bar with 3 changes behind it.
    assert values["rsi"] == same([nan, nan, nan, 100, 100, 100, 100])
    assert vote == same([nan, nan, nan, SELL, SELL, SELL, SELL])


def test_rsi_is_0_on_a_strictly_falling_series_and_votes_buy_below_oversold():
    values, vote = run("RSI", bars([8, 7, 6, 5, 4, 3, 2]), period=3, oversold=30, overbought=70)
    assert values["rsi"] == same([nan, nan, nan, 0, 0, 0, 0])
    assert vote == same([nan, nan, nan, BUY, BUY, BUY, BUY])


def test_rsi_follows_wilders_smoothing_and_has_no_opinion_between_the_thresholds():
    closes = [10, 11, 10, 11, 10, 11, 10, 11, 10]
    values, vote = run("RSI", bars(closes), period=4, oversold=30, overbought=70)
    expected = wilder_rsi(closes, 4)
    # Gains and losses alternate: 50 after the seed, then 62.5 and 46.875 and so on, always within 30..70.
    assert expected[4:7] == pytest.approx([50, 62.5, 46.875])
    assert values["rsi"] == same(expected)
    assert vote == same([nan] * 4 + [NONE] * 5)


def test_rsi_has_no_opinion_while_the_price_has_not_moved():
    # No gains and no losses: RSI is 0 / 0, which says nothing about oversold or overbought.
    values, vote = run("RSI", bars([50] * 8), period=3)
    assert vote == same([nan, nan, nan, NONE, NONE, NONE, NONE, NONE])


def test_rsi_votes_again_once_the_price_moves():
    # The first change is a loss of 1 on bar 5: Wilder's average loss 1/3, gain 0, RSI 0.
    values, vote = run("RSI", bars([50] * 5 + [49, 48]), period=3)
    assert values["rsi"][5:] == [0, 0]
    assert vote == same([nan, nan, nan, NONE, NONE, BUY, BUY])


# MACD {fast, slow, signal}


def test_macd_votes_buy_on_the_bar_it_crosses_above_its_signal_line():
    # A flat price settles every average at 10, so MACD = signal = 0 and nothing votes. A step up to 11
    # moves the fast EMA (alpha 2/3) more than the slow one (alpha 2/5): MACD jumps to 2/3 - 2/5 = 4/15,
    # and the signal (alpha 2/3 of MACD) follows only part of the way, so MACD is above it on that bar.
    closes = [10] * 12 + [11] * 3
    values, vote = run("MACD", bars(closes), fast=2, slow=4, signal=2)
    fast, slow = ema_from(10, [11] * 3, 2), ema_from(10, [11] * 3, 4)
    macd = [f - s for f, s in zip(fast, slow, strict=True)]
    signal = ema_from(0, macd, 2)
    assert macd[0] == pytest.approx(4 / 15)
    assert values["macd"][12:] == pytest.approx(macd)
    assert values["signal"][12:] == pytest.approx(signal)
    assert vote[5:12] == [NONE] * 7
    assert vote[12] == BUY
    # Then MACD fades back while the signal lags: below it on the third bar of the step (by hand:
    # MACD 0.1790 < signal 0.1944), a cross down.
    assert [m > s for m, s in zip(macd, signal, strict=True)] == [True, True, False]
    assert vote[13:] == [NONE, SELL]


def test_macd_votes_sell_on_the_bar_it_crosses_below_its_signal_line():
    closes = [10] * 12 + [9]
    _, vote = run("MACD", bars(closes), fast=2, slow=4, signal=2)
    assert vote[5:] == [NONE] * 7 + [SELL]


def test_macd_needs_slow_plus_signal_bars_before_it_votes():
    # MACD exists from bar slow-1, its signal from bar slow+signal-2, a cross needs one more bar.
    _, vote = run("MACD", bars([10] * 8), fast=2, slow=4, signal=2)
    assert vote == same([nan] * 5 + [NONE] * 3)


def test_macd_has_no_opinion_on_a_flat_price_with_default_parameters():
    _, vote = run("MACD", bars([100.1] * 45))
    assert [v for v in vote if not math.isnan(v)] == [NONE] * (45 - 34)


# SMA / EMA {period}: close against the average


def test_sma_of_1_2_3_4_over_3_bars_and_the_close_above_it_votes_buy():
    values, vote = run("SMA", bars([1, 2, 3, 4]), period=3)
    assert values["average"] == same([nan, nan, (1 + 2 + 3) / 3, (2 + 3 + 4) / 3])
    assert vote == same([nan, nan, BUY, BUY])


def test_sma_votes_sell_when_the_close_is_below_the_average():
    values, vote = run("SMA", bars([4, 3, 2, 1]), period=3)
    assert values["average"] == same([nan, nan, 3, 2])
    assert vote == same([nan, nan, SELL, SELL])


@pytest.mark.parametrize("price", [10.0, 19.99, 100.1, 388.13])
@pytest.mark.parametrize("name", ["SMA", "EMA"])
def test_an_average_of_a_flat_price_equals_it_and_has_no_opinion(name, price):
    values, vote = run(name, bars([price] * 30), period=20)
    assert values["average"][19:] == pytest.approx([price] * 11)
    assert vote[19:] == [NONE] * 11


def test_ema_is_seeded_by_the_sma_and_sits_below_a_rising_close():
    values, vote = run("EMA", bars([1, 2, 3, 4, 5]), period=3)
    # Seed: SMA(1, 2, 3) = 2; then alpha = 2 / (3 + 1) = 1/2: 2 + (4 - 2) / 2 = 3, 3 + (5 - 3) / 2 = 4.
    assert values["average"] == same([nan, nan, 2, 3, 4])
    assert vote == same([nan, nan, BUY, BUY, BUY])


def test_ema_votes_sell_when_the_close_falls_below_it():
    values, vote = run("EMA", bars([5, 4, 3, 2, 1]), period=3)
    assert values["average"] == same([nan, nan, 4, 3, 2])
    assert vote == same([nan, nan, SELL, SELL, SELL])


# SMA / EMA {fast, slow}: crossover


def test_sma_crossover_votes_buy_only_on_the_bar_the_fast_average_crosses_above_the_slow():
    closes = [10, 9, 8, 7, 6, 7, 8, 9]
    values, vote = run("SMA", bars(closes), fast=2, slow=4)
    # bar 5: fast (6+7)/2 = 6.5 < slow (8+7+6+7)/4 = 7; bar 6: fast (7+8)/2 = 7.5 > slow (7+6+7+8)/4 = 7.
    assert values["fast"][5:7] == [6.5, 7.5]
    assert values["slow"][5:7] == [7.0, 7.0]
    assert vote == same([nan, nan, nan, nan, NONE, NONE, BUY, NONE])


def test_sma_crossover_votes_sell_only_on_the_bar_the_fast_average_crosses_below_the_slow():
    closes = [6, 7, 8, 9, 10, 9, 8, 7]
    _, vote = run("SMA", bars(closes), fast=2, slow=4)
    # bar 5: fast 9.5 > slow 9; bar 6: fast 8.5 < slow 9.
    assert vote == same([nan, nan, nan, nan, NONE, NONE, SELL, NONE])


def test_ema_crossover_votes_buy_when_a_step_up_lifts_the_fast_average_over_the_slow():
    # Settled at 10 both averages are 10 (no vote); on the step the fast one moves 2/3 of the way,
    # the slow one 2/5: fast above slow from that bar, a cross there and only there.
    _, vote = run("EMA", bars([10] * 6 + [11, 11]), fast=2, slow=4)
    assert vote == same([nan] * 4 + [NONE, NONE, BUY, NONE])


def test_ema_crossover_votes_sell_when_a_step_down_drops_the_fast_average_under_the_slow():
    _, vote = run("EMA", bars([10] * 6 + [9, 9]), fast=2, slow=4)
    assert vote == same([nan] * 4 + [NONE, NONE, SELL, NONE])


# BBANDS {period, std}


def test_bbands_of_a_constant_price_collapse_onto_it_and_do_not_vote():
    values, vote = run("BBANDS", bars([10] * 12), period=10, std=2)
    assert values["lower"][9:] == values["upper"][9:] == [10.0] * 3
    assert vote[9:] == [NONE] * 3


@pytest.mark.parametrize("price", [19.99, 100.1, 222.28])
def test_bbands_of_a_constant_price_do_not_vote_at_any_price_level(price):
    _, vote = run("BBANDS", bars([price] * 25), period=5, std=2)
    assert vote[4:] == [NONE] * 21


def test_bbands_vote_sell_when_a_spike_closes_above_the_upper_band():
    values, vote = run("BBANDS", bars([10] * 10 + [20]), period=10, std=2)
    # Window: nine 10s and a 20. Mean 11; population variance (9 * 1 + 9 ** 2) / 10 = 9, std 3: bands 5 and 17.
    assert (values["lower"][-1], values["middle"][-1], values["upper"][-1]) == pytest.approx((5, 11, 17))
    assert vote[-2:] == [NONE, SELL]


def test_bbands_vote_buy_when_a_drop_closes_below_the_lower_band():
    values, vote = run("BBANDS", bars([10] * 10 + [0]), period=10, std=2)
    # Mean 9, std 3: bands 3 and 15; the close 0 is below 3.
    assert (values["lower"][-1], values["upper"][-1]) == pytest.approx((3, 15))
    assert vote[-2:] == [NONE, BUY]


def test_bbands_do_not_vote_for_a_spike_that_only_reaches_the_band():
    # Five bars: four 10s and a 20. Mean 12, population std sqrt((4 * 4 + 8 ** 2) / 5) = 4: upper band
    # 12 + 2 * 4 = 20, exactly the close. "Above the upper band" is strict.
    values, vote = run("BBANDS", bars([10] * 4 + [20]), period=5, std=2)
    assert values["upper"][-1] == pytest.approx(20)
    assert vote[-1] == NONE


# STOCH {k, d, smooth_k, oversold, overbought}

STOCH_HIGH = [11, 13, 12, 14, 13, 10]
STOCH_LOW = [9, 11, 10, 12, 11, 9]
STOCH_CLOSE = [10, 12, 11, 13, 12, 9]


def raw_k(i, k=3):
    """%K from its definition: where the close sits in the last k bars' high-low range, in percent."""
    highest, lowest = max(STOCH_HIGH[i - k + 1 : i + 1]), min(STOCH_LOW[i - k + 1 : i + 1])
    return 100 * (STOCH_CLOSE[i] - lowest) / (highest - lowest)


def test_stoch_k_is_0_when_the_close_is_the_periods_low_and_votes_buy():
    history = bars(STOCH_CLOSE, high=STOCH_HIGH, low=STOCH_LOW)
    values, vote = run("STOCH", history, k=3, d=2, smooth_k=1, oversold=20, overbought=80)
    # Last bar: highest high of the last 3 bars 14, lowest low 9, close 9: %K = 0.
    assert raw_k(5) == 0
    # Bar 2: (11 - 9) / (13 - 9) = 50; bar 3: (13 - 10) / (14 - 10) = 75; bar 4: (12 - 10) / (14 - 10) = 50.
    assert values["k"] == same([nan, nan, 50, 75, 50, 0])
    assert values["k"] == same([nan, nan] + [raw_k(i) for i in range(2, 6)])
    assert vote == same([nan, nan, NONE, NONE, NONE, BUY])


def test_stoch_votes_sell_when_the_close_is_the_periods_high():
    history = bars([10, 12, 14], high=[11, 13, 14], low=[9, 11, 12])
    values, vote = run("STOCH", history, k=3, d=1, smooth_k=1)
    assert values["k"][-1] == pytest.approx(100)
    assert vote[-1] == SELL


@pytest.mark.parametrize("d", [1, 2, 4])
def test_stoch_k_is_averaged_over_smooth_k_bars_and_d_over_d_bars_of_it(d):
    history = bars(STOCH_CLOSE, high=STOCH_HIGH, low=STOCH_LOW)
    values, vote = run("STOCH", history, k=3, d=d, smooth_k=3, oversold=45, overbought=55)
    # Raw %K from bar 2 on: 50, 75, 50, 0; smoothed over 3 bars: 175 / 3 on bar 4, 125 / 3 on bar 5.
    assert values["k"] == same([nan] * 4 + [175 / 3, 125 / 3])
    assert vote == same([nan] * 4 + [SELL, BUY])
    if d == 2:
        assert values["d"][-1] == pytest.approx((175 / 3 + 125 / 3) / 2)


def test_stoch_has_no_opinion_when_the_period_has_no_range():
    # High = low = close for every bar: %K = (close - low) / (high - low) is 0 / 0, not "oversold".
    _, vote = run("STOCH", bars([50] * 8), k=3, d=2, smooth_k=1)
    assert vote == same([nan, nan] + [NONE] * 6)


def test_stoch_has_no_opinion_while_a_window_without_range_is_in_its_smoothing():
    # Bars 0-3 flat at 50, then bar 4 ranges 49-51 and closes at 49: raw %K = 0 on bar 4, but with
    # smooth_k = 2 bar 4's %K also averages bar 3's window (no range); bar 5's (0 and 100) does not.
    history = bars([50, 50, 50, 50, 49, 51], high=[50, 50, 50, 50, 51, 51], low=[50, 50, 50, 50, 49, 50])
    _, unsmoothed = run("STOCH", history, k=3, d=1, smooth_k=1)
    _, smoothed = run("STOCH", history, k=3, d=1, smooth_k=2)
    assert unsmoothed == same([nan, nan, NONE, NONE, BUY, SELL])
    assert smoothed == same([nan, nan, nan, NONE, NONE, NONE])  # bar 5: (0 + 100) / 2 = 50


# OBV {period}


def test_obv_votes_sell_while_falling_and_buy_once_it_rises_above_its_sma():
    closes = [5, 4, 3, 2, 3, 4, 5]
    values, vote = run("OBV", bars(closes), period=3)
    # Each down bar subtracts its volume (100), each up bar adds it. Relative to bar 0 the OBV is
    # 0, -100, -200, -300, -200, -100, 0, and its 3-bar SMA from bar 2 on -100, -200, -233.3, -200, -100.
    start = values["obv"][0]
    assert [o - start for o in values["obv"]] == [0, -100, -200, -300, -200, -100, 0]
    assert [s - start for s in values["obv_sma"][2:]] == pytest.approx([-100, -200, -700 / 3, -200, -100])
    assert vote == same([nan, nan, SELL, SELL, BUY, BUY, BUY])


# VOLUME_SMA {period, multiplier}: a confirmation, 1 = confirms, 0 = does not


def test_volume_sma_confirms_volume_above_multiplier_times_its_average():
    history = bars([1, 2, 3, 4], volume=[100, 100, 100, 400])
    values, confirms = run("VOLUME_SMA", history, period=3, multiplier=1.5)
    # Last bar: SMA (100 + 100 + 400) / 3 = 200; 400 > 1.5 * 200 = 300.
    assert values["volume_sma"] == same([nan, nan, 100, 200])
    assert confirms == same([nan, nan, 0, 1])


def test_volume_sma_does_not_confirm_volume_only_equal_to_the_threshold():
    history = bars([1, 2, 3, 4], volume=[100, 100, 100, 400])
    _, confirms = run("VOLUME_SMA", history, period=3, multiplier=2)
    assert confirms[-1] == 0  # 400 is not above 2 * 200


@pytest.mark.parametrize("volume", [100.0, 100.1, 1234.56])
def test_volume_sma_does_not_confirm_a_steady_volume(volume):
    _, confirms = run("VOLUME_SMA", bars([1] * 30, volume=[volume] * 30), period=20, multiplier=1)
    assert confirms[19:] == [0] * 11


def test_volume_sma_is_a_confirmation_and_the_others_vote():
    assert [name for name, indicator in REGISTRY.items() if indicator.confirmation] == ["VOLUME_SMA"]


# Short histories and parameters


DEFAULTS = {name: {"period": 5} if name in ("SMA", "EMA") else {} for name in REGISTRY}


@pytest.mark.parametrize("length", [0, 1, 3])
@pytest.mark.parametrize("name", list(REGISTRY))
def test_an_indicator_with_fewer_bars_than_its_look_back_is_warming_up_everywhere(name, length):
    _, vote = run(name, bars(range(1, length + 1)), **DEFAULTS[name])
    assert len(vote) == length
    assert all(math.isnan(v) for v in vote)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("RSI", {"period": 0}),
        ("RSI", {"oversold": 70, "overbought": 30}),
        ("RSI", {"oversold": 50, "overbought": 50}),
        ("RSI", {"overbought": 101}),
        ("MACD", {"fast": 26, "slow": 12}),
        ("MACD", {"fast": 12, "slow": 12}),
        ("SMA", {}),
        ("SMA", {"period": 5, "fast": 2, "slow": 4}),
        ("SMA", {"fast": 2}),
        ("EMA", {"fast": 4, "slow": 2}),
        ("EMA", {"period": 2.5}),
        ("BBANDS", {"std": 0}),
        ("STOCH", {"oversold": 80, "overbought": 20}),
        ("OBV", {"period": -1}),
        ("VOLUME_SMA", {"multiplier": 0}),
        ("RSI", {"length": 14}),
        # A look-back of one bar is degenerate (an average of one close is the close) and TA-Lib refuses it.
        ("RSI", {"period": 1}),
        ("MACD", {"fast": 1, "slow": 2}),
        ("MACD", {"signal": 1}),
        ("SMA", {"period": 1}),
        ("SMA", {"fast": 1, "slow": 5}),
        ("EMA", {"period": 1}),
        ("BBANDS", {"period": 1}),
        ("OBV", {"period": 1}),
        ("VOLUME_SMA", {"period": 1}),
    ],
)
def test_invalid_indicator_parameters_are_rejected(name, params):
    with pytest.raises(ValidationError):
        REGISTRY[name].params(**params)


SMALLEST = {
    "RSI": {"period": 2},
    "MACD": {"fast": 2, "slow": 3, "signal": 2},
    "SMA": {"fast": 2, "slow": 3},
    "EMA": {"period": 2},
    "BBANDS": {"period": 2, "std": 0.5},
    "STOCH": {"k": 1, "d": 1, "smooth_k": 1},
    "OBV": {"period": 2},
    "VOLUME_SMA": {"period": 2},
}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_indicator_votes_with_its_smallest_valid_parameters(name):
    closes = [10, 11, 10.5, 12, 11, 13, 12.5, 14]
    history = bars(closes, high=[c + 1 for c in closes], low=[c - 1 for c in closes])
    _, vote = run(name, history, **SMALLEST[name])
    assert not math.isnan(vote[-1])
