"""AlpacaMarketData against the local Alpaca stand-in, through the real alpaca-py client."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from brokers.alpaca_http import RetryPolicy
from brokers.base import BrokerError
from market.alpaca_data import AlpacaMarketData
from market.base import BAR_COLUMNS

pytestmark = pytest.mark.django_db

TIMEOUT = 0.5
OPEN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


@pytest.fixture
def market(alpaca_account):
    return AlpacaMarketData(alpaca_account, retry=RetryPolicy(attempts=3, first_delay=0.01), timeout=TIMEOUT)


def minute_bars(count, first=OPEN):
    """Bar i opens at first + i minutes with open i+1, high i+2, low i+0.5, close i+1.5, volume 100(i+1)."""
    return [(first + timedelta(minutes=i), i + 1, i + 2, i + 0.5, i + 1.5, 100 * (i + 1)) for i in range(count)]


def test_bars_come_in_the_documented_shape(market, alpaca_stub):
    alpaca_stub.load_bars("AAPL", "1Min", minute_bars(3))

    bars = market.bars("AAPL", "1Min", start=OPEN, end=OPEN + timedelta(minutes=3))

    assert list(bars.columns) == BAR_COLUMNS
    assert all(dtype == "float64" for dtype in bars.dtypes)
    assert isinstance(bars.index, pd.DatetimeIndex) and bars.index.name == "time"
    assert str(bars.index.tz) == "UTC"
    assert list(bars.index) == [OPEN, OPEN + timedelta(minutes=1), OPEN + timedelta(minutes=2)]
    assert bars.iloc[1].to_dict() == {"open": 2.0, "high": 3.0, "low": 1.5, "close": 2.5, "volume": 200.0}


def test_bars_are_gathered_across_pages(market, alpaca_stub):
    alpaca_stub.load_bars("AAPL", "1Min", minute_bars(10))
    alpaca_stub.bars_page_size = 3

    bars = market.bars("AAPL", "1Min", start=OPEN, end=OPEN + timedelta(minutes=10))

    assert list(bars["open"]) == [float(n) for n in range(1, 11)]
    pages = alpaca_stub.requests_to("/v2/stocks/bars")
    assert len(pages) == 4
    assert "page_token" not in pages[0].query
    assert all(page.query.get("page_token") for page in pages[1:])


def test_only_closed_bars_are_returned(market, alpaca_stub):
    alpaca_stub.load_bars("AAPL", "1Min", minute_bars(10))

    # At 14:35:30 the 14:35 bar is still forming; 14:34 closed at 14:35.
    bars = market.bars("AAPL", "1Min", start=OPEN, end=OPEN + timedelta(minutes=5, seconds=30))

    assert bars.index[-1] == OPEN + timedelta(minutes=4)
    assert len(bars) == 5


def test_a_bar_ending_exactly_at_end_is_closed(market, alpaca_stub):
    alpaca_stub.load_bars("AAPL", "5Min", [(OPEN + timedelta(minutes=5 * i), 1, 2, 0.5, 1.5, 100) for i in range(4)])

    bars = market.bars("AAPL", "5Min", start=OPEN, end=OPEN + timedelta(minutes=15))

    assert list(bars.index) == [OPEN, OPEN + timedelta(minutes=5), OPEN + timedelta(minutes=10)]


def test_a_limit_returns_the_latest_closed_bars_in_time_order(market, alpaca_stub):
    alpaca_stub.load_bars("AAPL", "1Min", minute_bars(20))
    alpaca_stub.bars_page_size = 2

    bars = market.bars("AAPL", "1Min", end=OPEN + timedelta(minutes=15, seconds=10), limit=5)

    assert list(bars.index) == [OPEN + timedelta(minutes=m) for m in range(10, 15)]
    first = alpaca_stub.requests_to("/v2/stocks/bars")[0]
    assert (first.query["limit"], first.query["sort"]) == ("5", "desc")
    assert datetime.fromisoformat(first.query["start"]) < OPEN


def test_daily_bars_use_alpacas_1day_timeframe(market, alpaca_stub):
    days = [datetime(2024, 1, d, 5, tzinfo=UTC) for d in (2, 3, 4)]
    alpaca_stub.load_bars("AAPL", "1Day", [(day, 187, 188, 183, 185.64, 82488674) for day in days])

    bars = market.bars("AAPL", "1Day", end=datetime(2024, 1, 5, 5, tzinfo=UTC), limit=10)

    assert list(bars.index) == days
    assert alpaca_stub.requests_to("/v2/stocks/bars")[0].query["timeframe"] == "1Day"


def test_no_bars_is_an_empty_frame_of_the_same_shape(market, alpaca_stub):
    bars = market.bars("AAPL", "15Min", start=OPEN, end=OPEN + timedelta(hours=2))

    assert bars.empty
    assert list(bars.columns) == BAR_COLUMNS
    assert str(bars.index.tz) == "UTC" and bars.index.name == "time"


def test_a_window_holding_no_closed_bar_is_empty_without_asking_alpaca(market, alpaca_stub):
    alpaca_stub.load_bars("AAPL", "1Hour", [(OPEN, 1, 2, 0.5, 1.5, 100)])

    bars = market.bars("AAPL", "1Hour", start=OPEN, end=OPEN + timedelta(minutes=59))

    assert bars.empty and list(bars.columns) == BAR_COLUMNS
    assert alpaca_stub.requests == []


def test_an_unknown_timeframe_is_refused(market):
    with pytest.raises(ValueError, match="Unknown timeframe"):
        market.bars("AAPL", "2Min", start=OPEN, end=OPEN + timedelta(hours=1))


def test_a_server_error_on_bars_is_retried(market, alpaca_stub):
    alpaca_stub.load_bars("AAPL", "1Min", minute_bars(3))
    alpaca_stub.fail_next("/v2/stocks/bars", 500)

    bars = market.bars("AAPL", "1Min", start=OPEN, end=OPEN + timedelta(minutes=3))

    assert len(bars) == 3
    assert len(alpaca_stub.requests_to("/v2/stocks/bars")) == 2


def test_a_hanging_data_api_times_out_into_a_broker_error(market, alpaca_stub):
    alpaca_stub.hang_next("/v2/stocks", seconds=30, times=10)

    started = time.monotonic()
    with pytest.raises(BrokerError, match="after 3 attempts"):
        market.latest_price("AAPL", at=OPEN)

    assert time.monotonic() - started < 3 * TIMEOUT + 1.5


def test_the_latest_price_is_the_latest_trade_as_a_decimal(market, alpaca_stub):
    alpaca_stub.set_price("AAPL", "187.23")

    assert market.latest_price("AAPL", at=OPEN) == Decimal("187.23")
    assert alpaca_stub.requests_to("/v2/stocks/trades/latest")[0].query == {"symbols": "AAPL", "feed": "iex"}


def test_a_symbol_without_trades_has_no_latest_price(market, alpaca_stub):
    with pytest.raises(BrokerError, match="no latest trade for NOPE"):
        market.latest_price("NOPE", at=OPEN)
