from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from engine.market_time import TIMEFRAMES
from market import sim_path
from market.base import BAR_COLUMNS
from market.simulated import SimulatedMarket, _block

END = datetime(2024, 7, 3, 15, 0, tzinfo=UTC)
AGGREGATE = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


@pytest.fixture(autouse=True)
def no_memoised_blocks():
    # Each query below must compute its bars afresh, or the determinism tests would prove nothing.
    _block.cache_clear()
    yield
    _block.cache_clear()


def fresh_bars(market, *args, **kwargs) -> pd.DataFrame:
    _block.cache_clear()
    return market.bars(*args, **kwargs)


def aggregate(bars: pd.DataFrame) -> dict[str, float]:
    return {
        "open": bars["open"].iloc[0],
        "high": bars["high"].max(),
        "low": bars["low"].min(),
        "close": bars["close"].iloc[-1],
        "volume": bars["volume"].sum(),
    }


def test_the_minute_path_is_the_same_whatever_window_computes_it():
    model = sim_path.symbol_model(0, "AAPL")
    first = 28_000_000
    reference = sim_path.minute_bars(model, first, 50_000)
    for offset, count in [(0, 1), (1, 2), (777, 3), (2047, 5000), (4096, 1), (49_999, 1), (12_345, 37_000)]:
        window = sim_path.minute_bars(model, first + offset, count)
        for column in ("open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(window, column), getattr(reference, column)[offset : offset + count])


@pytest.mark.parametrize("timeframe", list(TIMEFRAMES))
def test_a_bar_is_the_same_from_any_window_and_any_instance(timeframe):
    step = TIMEFRAMES[timeframe]
    recent = fresh_bars(SimulatedMarket(7), "MSFT", timeframe, end=END, limit=300)
    late = fresh_bars(SimulatedMarket(7), "MSFT", timeframe, end=END + 40 * step, start=END - 120 * step)
    just_after = recent.index[150] + step + timedelta(seconds=1)
    single = fresh_bars(SimulatedMarket(7), "MSFT", timeframe, end=just_after, limit=1)
    overlap = recent.index.intersection(late.index)
    assert len(overlap) >= 100
    pd.testing.assert_frame_equal(recent.loc[overlap], late.loc[overlap], check_exact=True)
    pd.testing.assert_frame_equal(single, recent.iloc[[150]], check_exact=True)


def test_the_seed_and_the_symbol_decide_the_series():
    aapl = SimulatedMarket(0).bars("AAPL", "1Hour", end=END, limit=100)
    assert not aapl.equals(SimulatedMarket(1).bars("AAPL", "1Hour", end=END, limit=100))
    assert not np.allclose(aapl["close"], SimulatedMarket(0).bars("MSFT", "1Hour", end=END, limit=100)["close"])
    pd.testing.assert_frame_equal(aapl, SimulatedMarket(0).bars(" aapl ", "1Hour", end=END, limit=100))


def test_prices_do_not_depend_on_the_process_hash_seed():
    # Pinned: Python's hash() of a str changes per process, a stable hash does not. Changing the
    # price model changes this number, and every demo and backtest with it: do it on purpose.
    assert SimulatedMarket(0).latest_price("AAPL", at=datetime(2024, 1, 2, 15, 0, tzinfo=UTC)) == Decimal("574.04")


@pytest.mark.parametrize("timeframe", list(TIMEFRAMES))
def test_bars_are_well_formed(timeframe):
    bars = SimulatedMarket(3).bars("TSLA", timeframe, end=END, limit=3000)
    assert list(bars.columns) == BAR_COLUMNS
    assert all(dtype == np.float64 for dtype in bars.dtypes)
    assert str(bars.index.tz) == "UTC" and bars.index.name == "time"
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["low"] > 0).all() and (bars["volume"] >= 0).all()
    assert np.array_equal(bars["close"], bars["close"].round(2))


def test_a_five_minute_bar_aggregates_its_one_minute_bars():
    market = SimulatedMarket(5)
    five = fresh_bars(market, "NVDA", "5Min", end=END, limit=400)
    ones = fresh_bars(market, "NVDA", "1Min", end=END, limit=2000)
    rebuilt = ones.resample("5min").agg(AGGREGATE)
    pd.testing.assert_frame_equal(five, rebuilt.loc[five.index], check_exact=True, check_freq=False)


def test_a_daily_bar_spans_the_new_york_day_even_when_dst_ends():
    market = SimulatedMarket(5)
    end = datetime(2024, 11, 6, 5, 0, tzinfo=UTC)  # 00:00 EST on 6 November
    days = fresh_bars(market, "NVDA", "1Day", end=end, limit=4)
    hours = fresh_bars(market, "NVDA", "1Hour", end=end, start=days.index[0])
    assert list(days.index) == [
        pd.Timestamp(t, tz="UTC")
        for t in ("2024-11-02 04:00", "2024-11-03 04:00", "2024-11-04 05:00", "2024-11-05 05:00")
    ]
    for day, following in zip(days.index, [*days.index[1:], pd.Timestamp(end)], strict=True):
        in_day = hours[(hours.index >= day) & (hours.index < following)]
        assert len(in_day) == (25 if day.day == 3 else 24)
        assert aggregate(in_day) == days.loc[day].to_dict()


def last_open(timeframe: str, end: datetime) -> pd.Timestamp:
    return SimulatedMarket().bars("AAPL", timeframe, end=end, limit=1).index[-1]


def test_only_closed_bars_are_returned():
    at = datetime(2024, 7, 3, 14, 3, 30, tzinfo=UTC)
    assert last_open("1Min", at) == pd.Timestamp("2024-07-03 14:02", tz="UTC")
    assert last_open("5Min", at) == pd.Timestamp("2024-07-03 13:55", tz="UTC")
    on_boundary = datetime(2024, 7, 3, 14, 5, tzinfo=UTC)
    assert last_open("5Min", on_boundary) == pd.Timestamp("2024-07-03 14:00", tz="UTC")
    assert last_open("1Hour", on_boundary) == pd.Timestamp("2024-07-03 13:00", tz="UTC")
    before_midnight = datetime(2024, 7, 3, 3, 59, 59, tzinfo=UTC)  # 23:59:59 EDT on 2 July
    assert last_open("1Day", before_midnight) == pd.Timestamp("2024-07-01 04:00", tz="UTC")
    assert last_open("1Day", datetime(2024, 7, 3, 4, 0, tzinfo=UTC)) == pd.Timestamp("2024-07-02 04:00", tz="UTC")


def test_start_and_limit_select_the_window():
    market = SimulatedMarket()
    start = datetime(2024, 7, 3, 13, 0, 30, tzinfo=UTC)
    from_start = market.bars("AAPL", "1Min", end=END, start=start)
    assert from_start.index[0] == pd.Timestamp("2024-07-03 13:01", tz="UTC") and len(from_start) == 119
    last_ten = market.bars("AAPL", "1Min", end=END, start=start, limit=10)
    assert len(last_ten) == 10 and last_ten.index[0] == pd.Timestamp("2024-07-03 14:50", tz="UTC")
    assert market.bars("AAPL", "1Min", end=END, start=END, limit=10).empty
    assert market.bars("AAPL", "1Min", end=END, limit=0).empty


@pytest.mark.parametrize(
    "kwargs",
    [{"end": END}, {"end": datetime(2024, 7, 3, 15, 0), "limit": 5}, {"end": END, "limit": -1}],
)
def test_bad_windows_are_refused(kwargs):
    with pytest.raises(ValueError):
        SimulatedMarket().bars("AAPL", "1Min", **kwargs)


def test_an_unknown_timeframe_is_refused():
    with pytest.raises(ValueError, match="timeframe"):
        SimulatedMarket().bars("AAPL", "2Min", end=END, limit=5)


def test_the_latest_price_is_the_last_closed_bars_close():
    market = SimulatedMarket(2)
    price = market.latest_price("AMD", at=END)
    assert isinstance(price, Decimal) and price == price.quantize(Decimal("0.01"))
    assert float(price) == market.bars("AMD", "1Min", end=END, limit=1)["close"].iloc[-1]
    assert float(price) == market.bars("AMD", "1Hour", end=END, limit=1)["close"].iloc[-1]
    assert market.latest_price("AMD", at=END + timedelta(seconds=59)) == price
    assert (
        float(market.latest_price("AMD", at=END + timedelta(minutes=1)))
        == market.bars("AMD", "1Min", end=END + timedelta(minutes=1), limit=1)["close"].iloc[-1]
    )


def test_symbols_get_realistic_prices_and_volatility():
    for number in range(200):
        model = sim_path.symbol_model(0, f"SYM{number}")
        assert 20 <= model.base_price <= 500 and 0.15 <= model.annual_vol <= 0.60
    model = sim_path.symbol_model(0, "AAPL")
    hours = SimulatedMarket(0).bars("AAPL", "1Hour", end=END, limit=24 * 365)
    realised = np.log(hours["close"]).diff().std() * np.sqrt(24 * 365.25)
    assert 0.7 * model.annual_vol < realised < 1.4 * model.annual_vol
    assert hours["close"].between(model.base_price / 4, model.base_price * 4).all()


def test_volume_follows_the_session_u_shape():
    bars = SimulatedMarket(0).bars("AAPL", "1Min", end=datetime(2024, 7, 1, 4, tzinfo=UTC), limit=60 * 24 * 28)
    local = bars.index.tz_convert("America/New_York")
    on_weekdays = local.day_of_week < 5
    weekday, clock = bars[on_weekdays], local[on_weekdays].hour * 60 + local[on_weekdays].minute
    by_clock = weekday["volume"].groupby(clock).mean()
    opening, midday, closing = by_clock.loc[570:599].mean(), by_clock.loc[720:809].mean(), by_clock.loc[930:959].mean()
    overnight = by_clock.loc[0:239].mean()
    assert opening > 1.5 * midday and closing > 1.2 * midday and midday > 5 * overnight
