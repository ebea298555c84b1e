"""The simulated stream's trades follow the simulated bars exactly: four a minute, open, low, high, close."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from market.sim_stream import minute_trades
from market.simulated import SimulatedMarket

START = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "TSLA"])
def test_each_minute_trades_at_its_bars_open_low_high_close_in_that_order(symbol):
    bars = SimulatedMarket(0).bars(symbol, "1Min", start=START, end=START + timedelta(minutes=390), limit=390)
    assert len(bars) == 390
    for opened, bar in bars.iterrows():
        trades = minute_trades(0, symbol, opened.to_pydatetime())
        # The bars' prices are whole cents: the trades carry exactly them.
        assert [float(trade.price) for trade in trades] == [bar[c] for c in ("open", "low", "high", "close")], opened
        assert all(trade.price == trade.price.quantize(Decimal("0.01")) for trade in trades)
        times = [trade.at for trade in trades]
        assert times == sorted(times) and len(set(times)) == 4
        assert all(opened <= at < opened + timedelta(minutes=1) for at in times)
        assert sum(trade.size for trade in trades) >= bar["volume"]


def test_the_trades_are_a_pure_function_of_seed_symbol_and_minute():
    assert minute_trades(0, "AAPL", START) == minute_trades(0, "AAPL", START)
    assert minute_trades(0, "AAPL", START) != minute_trades(1, "AAPL", START)
    assert minute_trades(0, "AAPL", START) != minute_trades(0, "AAPL", START + timedelta(minutes=1))


def test_a_minute_must_be_whole():
    with pytest.raises(ValueError, match="whole minute"):
        minute_trades(0, "AAPL", START + timedelta(seconds=1))
