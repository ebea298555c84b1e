"""Bars and latest prices from Alpaca's market data API, through alpaca-py, with the same timeout
and retry treatment as the broker. Failures raise BrokerError."""

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from alpaca.common.enums import Sort
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestTradeRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from django.conf import settings

from brokers.alpaca_http import (
    RetryPolicy,
    alpaca_errors,
    checked_url,
    client_credentials,
    harden,
    key_fingerprint,
    with_retries,
)
from brokers.base import BrokerError
from engine.market_time import TIMEFRAMES
from market.base import BAR_COLUMNS, empty_bars


def _alpaca_timeframe(step: timedelta) -> TimeFrame:
    for unit, length in ((TimeFrameUnit.Day, timedelta(days=1)), (TimeFrameUnit.Hour, timedelta(hours=1))):
        if step % length == timedelta(0):
            return TimeFrame(step // length, unit)
    return TimeFrame(step // timedelta(minutes=1), TimeFrameUnit.Minute)


ALPACA_TIMEFRAMES = {name: _alpaca_timeframe(step) for name, step in TIMEFRAMES.items()}
# How far back to look for the last `limit` bars when no start is given: calendar time per bar of
# trading time is at most ~5x (6.5 trading hours a day, 5 days a week); 7x plus 10 days covers holidays.
LOOKBACK_FACTOR = 7
LOOKBACK_MARGIN = timedelta(days=10)


class AlpacaMarketData:
    """One account's view of Alpaca's data: what it returns depends on the data URL, the feed (IEX or
    SIP) and whose keys ask (their subscription), so that triple is the feed's identity."""

    name = "alpaca"

    def __init__(self, account, *, retry: RetryPolicy | None = None, timeout: float | None = None):
        api_key, secret_key = client_credentials(account)
        url = checked_url(account.market_data_url, "market data")
        self._client = StockHistoricalDataClient(api_key, secret_key, url_override=url)
        self._feed = DataFeed(account.data_feed)
        self.identity = ("alpaca", url, self._feed.value, key_fingerprint(api_key))
        self.circuit = f"alpaca data {url} {self._feed.value} {key_fingerprint(api_key)}"
        # Only the service's own endpoint speaks for the service's health; an account's custom one speaks for itself.
        self.health_label = f"alpaca {self._feed.value}" if url == settings.ALPACA_DATA_URL else None
        harden(self._client, settings.ALPACA_TIMEOUT_SECONDS if timeout is None else timeout)
        self._retry = retry or RetryPolicy.from_settings()

    def bars(
        self, symbol: str, timeframe: str, *, end: datetime, start: datetime | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        if timeframe not in ALPACA_TIMEFRAMES:
            raise ValueError(f"Unknown timeframe {timeframe!r}; expected one of {', '.join(ALPACA_TIMEFRAMES)}")
        if start is None and limit is None:
            raise ValueError("Give a start, a limit or both")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        if end.tzinfo is None or (start is not None and start.tzinfo is None):
            raise ValueError("start and end must be timezone-aware")
        step = TIMEFRAMES[timeframe]
        # Alpaca stamps bars with their open time and `end` is inclusive: the last closed bar opened at end - step.
        last_open = end - step
        if limit == 0 or (start is not None and start > last_open):
            return empty_bars()  # no closed bar can match; Alpaca would refuse a start after the end
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=ALPACA_TIMEFRAMES[timeframe],
            start=last_open - step * limit * LOOKBACK_FACTOR - LOOKBACK_MARGIN if start is None else start,
            end=last_open,
            limit=limit,
            # Newest first, so a `limit` keeps the latest bars; put back in time order below.
            sort=Sort.ASC if limit is None else Sort.DESC,
            # Split-adjusted history stays comparable with today's traded prices.
            adjustment=Adjustment.SPLIT,
            feed=self._feed,
        )
        with alpaca_errors("bars"):
            barset = with_retries(
                lambda: self._client.get_stock_bars(request),
                self._retry,
                "bars",
                api="market_data",
                circuit=self.circuit,
            )
        bars = barset.data.get(symbol, [])
        if not bars:
            return empty_bars()
        frame = pd.DataFrame(
            [[bar.open, bar.high, bar.low, bar.close, bar.volume] for bar in bars],
            columns=BAR_COLUMNS,
            index=pd.DatetimeIndex([bar.timestamp for bar in bars], name="time").tz_convert("UTC"),
            dtype=float,
        )
        # Newest first when asked so: put back in time order, but repair nothing else. A feed answering
        # out of order or twice for one bar is a fault the checks before a decision must see.
        return frame if request.sort == Sort.ASC else frame.iloc[::-1]

    def latest_price(self, symbol: str, *, at: datetime) -> Decimal:
        """The latest trade Alpaca knows of; `at` only matters to simulated and recorded feeds."""
        request = StockLatestTradeRequest(symbol_or_symbols=symbol, feed=self._feed)
        with alpaca_errors("latest trade"):
            trades = with_retries(
                lambda: self._client.get_stock_latest_trade(request),
                self._retry,
                "latest trade",
                api="market_data",
                circuit=self.circuit,
            )
        if symbol not in trades:
            raise BrokerError(f"Alpaca has no latest trade for {symbol}")
        return Decimal(str(trades[symbol].price))
