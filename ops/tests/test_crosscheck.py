"""Cross-check: our backtester and backtesting.py (an established open-source one) on its public GOOG
sample, with the same rules (ops/benchmarks/crosscheck.py says which, and why each setting)."""

from datetime import date
from io import StringIO
from math import floor

import pytest
from django.core.management import call_command

from ops.benchmarks import crosscheck

# Our money is Decimal to the cent; backtesting.py adds float P&Ls. Over 46 round trips the two
# final equities may differ by float rounding only: far below a cent.
EQUITY_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def runs():
    return crosscheck.compare()


def test_the_sample_is_backtesting_pys_goog_daily_2004_to_2013():
    data = crosscheck.goog()
    assert len(data) == 2148
    assert (data.index[0].date(), data.index[-1].date()) == (date(2004, 8, 19), date(2013, 3, 1))


def test_with_the_same_sizing_both_make_the_same_trades_to_the_cent(runs):
    ours, aligned, _, _ = runs
    assert len(ours.closed) == 46 and [trip.exit_day for trip in ours.trips].count(None) == 1
    assert ours.trips == aligned.trips, crosscheck.differences(ours, aligned)
    assert ours.final_equity == pytest.approx(aligned.final_equity, abs=EQUITY_TOLERANCE)
    assert ours.return_pct == pytest.approx(aligned.return_pct, abs=1e-4)
    assert ours.max_drawdown_pct == pytest.approx(aligned.max_drawdown_pct, abs=1e-4)  # ours is rounded to 4 places
    assert ours.win_rate_pct == pytest.approx(aligned.win_rate_pct, abs=1e-4)


def test_with_its_default_sizing_only_the_quantities_differ_as_documented(runs):
    ours, _, default, _ = runs
    assert [(t.entry_day, t.exit_day, t.entry_price, t.exit_price) for t in ours.trips] == [
        (t.entry_day, t.exit_day, t.entry_price, t.exit_price) for t in default.trips
    ]
    # backtesting.py buys whole shares of all its equity (the cash, when flat) at the fill's open: it compounds.
    cash = crosscheck.CAPITAL
    for trip in default.trips:
        assert trip.quantity == floor(cash / trip.entry_price)
        if trip.exit_day is not None:
            cash += (trip.exit_price - trip.entry_price) * trip.quantity
    still_open = default.trips[-1]
    unrealized = (crosscheck.goog().Close.iloc[-1] - still_open.entry_price) * still_open.quantity
    assert default.final_equity == pytest.approx(cash + unrealized)
    assert len(crosscheck.differences(ours, default)) == 45


def test_without_margin_backtesting_py_cancels_the_one_buy_whose_open_gapped_above_the_cash(runs):
    ours, _, _, unmargined = runs
    assert unmargined.cancelled_days == [date(2005, 4, 5)]
    assert "51 shares at 187.73 cost 9,574.23 with 9,544.97 of cash" == crosscheck._overdraft(ours, date(2005, 4, 5))


def test_the_benchmark_mode_prints_the_table():
    out = StringIO()
    call_command("benchmark", "crosscheck", stdout=out)
    table = out.getvalue()
    assert "Final equity" in table and table.count("33,136.25") == 2
    assert "Entry and exit days" in table and "DIFFER" not in table
