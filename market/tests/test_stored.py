from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from market.base import BAR_COLUMNS
from market.models import Bar
from market.stored import StoredBars, has_bars

START = datetime(2024, 7, 1, 13, 30, tzinfo=UTC)


def make_bars(symbol: str, timeframe: str, times: list[datetime], first_close: str = "100") -> None:
    for number, time in enumerate(times):
        close = Decimal(first_close) + number
        Bar.objects.create(
            symbol=symbol,
            timeframe=timeframe,
            time=time,
            open=close,
            high=close + 1,
            low=close - 1,
            close=close,
            volume=Decimal(1000 + number),
        )


@pytest.mark.django_db
def test_stored_bars_come_back_as_a_float_frame_of_closed_bars():
    make_bars("AAPL", "5Min", [START + timedelta(minutes=5 * n) for n in range(10)])
    bars = StoredBars().bars("aapl", "5Min", end=START + timedelta(minutes=50), start=START)
    assert list(bars.columns) == BAR_COLUMNS and all(dtype == np.float64 for dtype in bars.dtypes)
    assert str(bars.index.tz) == "UTC" and bars.index.name == "time"
    assert len(bars) == 10 and bars["close"].tolist() == [100.0 + n for n in range(10)]
    # The bar opening at 14:15 closes at 14:20: not yet at 14:19:59.
    assert StoredBars().bars("AAPL", "5Min", end=START + timedelta(minutes=49, seconds=59), limit=100).index[-1] == (
        pd.Timestamp(START + timedelta(minutes=40))
    )


@pytest.mark.django_db
def test_limit_takes_the_most_recent_bars_and_start_cuts_the_older_ones():
    make_bars("AAPL", "1Min", [START + timedelta(minutes=n) for n in range(30)])
    end = START + timedelta(minutes=30)
    assert StoredBars().bars("AAPL", "1Min", end=end, limit=3)["close"].tolist() == [127.0, 128.0, 129.0]
    assert len(StoredBars().bars("AAPL", "1Min", end=end, start=START + timedelta(minutes=25), limit=10)) == 5
    assert StoredBars().bars("MSFT", "1Min", end=end, limit=3).empty
    with pytest.raises(ValueError):
        StoredBars().bars("AAPL", "1Min", end=end)


@pytest.mark.django_db
def test_a_daily_bar_closes_at_the_next_new_york_midnight():
    make_bars("AAPL", "1Day", [datetime(2024, 7, 1, 4, tzinfo=UTC), datetime(2024, 7, 2, 4, tzinfo=UTC)])
    before = StoredBars().bars("AAPL", "1Day", end=datetime(2024, 7, 3, 3, 59, tzinfo=UTC), limit=5)
    after = StoredBars().bars("AAPL", "1Day", end=datetime(2024, 7, 3, 4, 0, tzinfo=UTC), limit=5)
    assert (len(before), len(after)) == (1, 2)


@pytest.mark.django_db
def test_the_latest_price_is_the_close_of_the_most_recently_closed_bar():
    make_bars("AAPL", "1Day", [datetime(2024, 7, 1, 4, tzinfo=UTC)], first_close="90")
    make_bars("AAPL", "1Min", [START, START + timedelta(minutes=1)], first_close="100")
    assert StoredBars().latest_price("AAPL", at=START + timedelta(minutes=1, seconds=30)) == Decimal("100")
    assert StoredBars().latest_price("AAPL", at=START + timedelta(minutes=2)) == Decimal("101")
    # 1 July's daily bar closes at midnight New York time, after the minute bars: its close is latest.
    assert StoredBars().latest_price("AAPL", at=datetime(2024, 7, 2, 5, tzinfo=UTC)) == Decimal("90")
    with pytest.raises(LookupError):
        StoredBars().latest_price("AAPL", at=START)


@pytest.mark.django_db
def test_has_bars_is_per_symbol_and_timeframe():
    make_bars("AAPL", "1Day", [datetime(2024, 7, 1, 4, tzinfo=UTC)])
    assert has_bars("AAPL", "1Day") and has_bars("aapl", "1Day")
    assert not has_bars("AAPL", "1Min") and not has_bars("MSFT", "1Day")
