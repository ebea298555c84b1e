"""The stream service on the simulated market: its trades price the pages and the positions, its
closed bars tick the bots (the simulated stream driven by hand through a clock of the test's)."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError

from bots import services
from bots.models import TickLog
from bots.stream import StreamService
from market.sim_stream import minute_trades
from tests.factories import BotFactory, PositionFactory

pytestmark = pytest.mark.django_db(transaction=True)

MINUTE = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not holds(condition):
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.01)


def holds(condition) -> bool:
    try:
        return bool(condition())
    except OperationalError:  # the test database (SQLite in memory) was locked by a service thread: look again
        return False


def test_simulated_trades_mark_positions_and_a_closed_minute_ticks_its_bots():
    bot = services.bot_start(
        bot=BotFactory(
            config={"name": "Sim", "capital": 10000, "symbols": ["AAPL"], "indicators": {"RSI": {"period": 14}}}
        )
    )
    position = PositionFactory(bot=bot, symbol="AAPL", quantity=10, entry_price=Decimal("500"))
    clock = [MINUTE]
    with StreamService(sim_clock=lambda: clock[0], reconcile_seconds=0.1, reconcile_accounts=False) as service:
        wait_for(lambda: service.market_streams and next(iter(service.market_streams.values())).symbols == {"AAPL"})
        [stream] = service.market_streams.values()
        # 16 s into the minute: the open and the low have traded; the low is the price now.
        stream.emit_until(MINUTE + timedelta(seconds=16))
        low = minute_trades(0, "AAPL", MINUTE)[1].price
        wait_for(lambda: type(position).objects.get(pk=position.pk).current_price == low)
        marked = type(position).objects.get(pk=position.pk)
        assert marked.unrealized_pnl == (low - Decimal("500")) * 10

        # The minute closes: its bar ticks the 1Min bot at once.
        stream.emit_until(MINUTE + timedelta(minutes=1, seconds=1))
        wait_for(lambda: TickLog.objects.filter(bot=bot).exists(), timeout=1.0)
        assert service.report()[0]["name"] == "simulated"
