"""Stops resting at Alpaca on PostgreSQL: exits and repair rounds racing over one position send one
sell, and leave no stop resting behind it (a stop and a sell of the same shares is a double sale)."""

import itertools
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from bots import services
from bots.maintenance import broker_stops_settle
from bots.models import BrokerStop
from bots.orders import position_close
from bots.ticks import bot_tick
from positions.models import Position
from tests.factories import BotFactory
from tests.test_alpaca_ticks import falling_bars
from tests.test_broker_stops import STOP_CONFIG
from tests.test_engine_services import run_concurrently
from tradebot.errors import Conflict

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def holding(alpaca_stub, alpaca_account):
    now = timezone.now().replace(second=0, microsecond=0)
    alpaca_stub.set_clock(is_open=True, next_open=now + timedelta(days=1), next_close=now + timedelta(hours=6))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars(now - timedelta(minutes=60)))
    alpaca_stub.set_price("TEST", "80")
    bot = services.bot_start(
        bot=BotFactory(config=STOP_CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    bot_tick(bot_id=bot.pk, now=timezone.now())
    position = Position.objects.get(bot=bot, is_open=True)
    assert BrokerStop.objects.get(position=position).status == "working"
    return position


def test_closes_and_repair_rounds_racing_sell_once_and_leave_no_stop_resting(alpaca_stub, holding):
    # Alpaca answers the sell late: its trade stays pending while repair rounds keep looking for stops to
    # place. Another 12 shares on the account (bought by hand) would let a stop placed then go through.
    alpaca_stub.add_position("TEST", 24, "80")
    alpaca_stub.hang_next("/v2/orders", 0.5, method="POST")

    def close_or_repair(index: int):
        if index % 2:
            for _ in range(10):
                broker_stops_settle()
                time.sleep(0.1)
            return None
        try:
            return position_close(position=Position.objects.get(pk=holding.pk))
        except Conflict as exc:
            return exc

    indexes = itertools.count()
    run_concurrently(10, lambda: close_or_repair(next(indexes)))

    sells = [o for o in alpaca_stub.orders if o["type"] == "market" and o["side"] == "sell"]
    assert len(sells) == 1 and sells[0]["status"] == "filled"
    assert not Position.objects.get(pk=holding.pk).is_open
    assert [o["status"] for o in alpaca_stub.orders if o["type"] == "stop"] == ["canceled"]
    assert not BrokerStop.objects.filter(status__in=BrokerStop.ACTIVE).exists()
