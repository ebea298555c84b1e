"""Exits that never sleep: a live trade through a position's stop or target sells it, whatever its bot's
status or window, once, at the level on the simulated broker and at market on Alpaca (the real alpaca-py
client against the stand-in)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from bots.connections import account_feed
from bots.exit_watch import ExitWatch
from bots.models import Bot
from positions.models import Position
from tests.factories import BotFactory, PositionFactory
from tests.test_alpaca_ticks import START
from trades.models import Trade

pytestmark = pytest.mark.django_db

AT = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)  # 10:00 in New York, a Tuesday


@pytest.fixture
def stopped_bot_holding():
    """A stopped bot still holding 10 AAPL bought at 100: stop 99, target 103."""
    bot = BotFactory(status=Bot.Status.STOPPED)
    position = PositionFactory(
        bot=bot, stop_loss_price=Decimal("99"), take_profit_price=Decimal("103"), opened_at=AT - timedelta(hours=1)
    )
    return bot, position


def feed_of(bot: Bot) -> tuple:
    return account_feed(bot.broker_account).identity


def trade(watch: ExitWatch, bot: Bot, price: str, at: datetime) -> list[Trade]:
    return watch.trade_seen(feed=feed_of(bot), symbol="AAPL", price=Decimal(price), at=at)


def test_a_trade_through_the_stop_of_a_stopped_bot_sells_at_the_stop(stopped_bot_holding):
    bot, position = stopped_bot_holding
    watch = ExitWatch()

    assert trade(watch, bot, "99.50", AT) == []
    [sold] = trade(watch, bot, "98.70", AT + timedelta(seconds=20))

    assert (sold.type, sold.quantity, sold.status) == ("sell", 10, Trade.Status.FILLED)
    assert sold.price == Decimal("99")  # inside the minute the price traded through 99: filled at the level
    assert sold.reason == "stop-loss: 98.70 reached the stop at 99.0000 (watched live)"
    assert sold.bar_time == AT and sold.profit_loss == Decimal("-10")
    position.refresh_from_db()
    assert not position.is_open and position.exit_price == Decimal("99")


def test_a_market_opening_beyond_the_stop_fills_at_that_price(stopped_bot_holding):
    bot, position = stopped_bot_holding
    watch = ExitWatch()
    trade(watch, bot, "99.50", AT + timedelta(seconds=50))

    [sold] = trade(watch, bot, "97.00", AT + timedelta(minutes=1))  # the next minute opens under the stop

    assert sold.price == Decimal("97.00") and sold.bar_time == AT + timedelta(minutes=1)


def test_a_take_profit_inside_the_minute_fills_at_the_target(stopped_bot_holding):
    bot, _ = stopped_bot_holding
    bot.status = Bot.Status.ERROR
    bot.save()
    watch = ExitWatch()
    trade(watch, bot, "102", AT)

    [sold] = trade(watch, bot, "103.40", AT + timedelta(seconds=30))

    assert sold.price == Decimal("103") and sold.reason.startswith("take-profit: 103.40 reached the target at 103.0000")


def test_a_trigger_seen_twice_or_by_two_processes_sends_one_order(stopped_bot_holding):
    bot, position = stopped_bot_holding
    first, second = ExitWatch(), ExitWatch()
    for watch in (first, second):
        trade(watch, bot, "99.50", AT)

    sent = trade(first, bot, "98", AT + timedelta(seconds=10))
    sent += trade(second, bot, "98", AT + timedelta(seconds=10))  # its watch list still has the position
    sent += trade(first, bot, "97", AT + timedelta(seconds=11))

    assert len(sent) == 1
    assert Trade.objects.filter(bot=bot, type="sell").count() == 1


def test_prices_between_the_levels_and_other_symbols_send_nothing(stopped_bot_holding):
    bot, position = stopped_bot_holding
    watch = ExitWatch()
    for second, price in enumerate(["99.01", "102.99", "100"]):
        assert trade(watch, bot, price, AT + timedelta(seconds=second)) == []
    assert watch.trade_seen(feed=feed_of(bot), symbol="MSFT", price=Decimal(1), at=AT + timedelta(seconds=5)) == []
    assert watch.trade_seen(feed=("another feed",), symbol="AAPL", price=Decimal(1), at=AT) == []
    assert Position.objects.get(pk=position.pk).is_open


@override_settings(TRADEBOT_SIM_ALWAYS_OPEN=False)
def test_nothing_is_sent_while_the_market_is_closed(stopped_bot_holding):
    bot, position = stopped_bot_holding
    saturday = datetime(2024, 3, 9, 15, 0, tzinfo=UTC)
    assert trade(ExitWatch(), bot, "90", saturday) == []
    assert Position.objects.get(pk=position.pk).is_open


def test_a_position_opened_after_the_last_refresh_is_watched_within_a_second(stopped_bot_holding):
    bot, position = stopped_bot_holding
    watch = ExitWatch()
    trade(watch, bot, "100", AT)
    later = PositionFactory(bot=BotFactory(owner=bot.owner, broker_account=bot.broker_account), stop_loss_price=99)

    sold = trade(watch, bot, "98", AT + timedelta(seconds=1))

    assert sorted(t.bot_id for t in sold) == sorted([bot.pk, later.bot_id])


def test_on_alpaca_the_stop_is_a_market_sell_sent_once(alpaca_stub, alpaca_account):
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.set_price("AAPL", "98")
    bot = BotFactory(owner=alpaca_account.owner, broker_account=alpaca_account, status=Bot.Status.PAUSED)
    position = PositionFactory(bot=bot, stop_loss_price=Decimal("99"))
    watch = ExitWatch()
    trade(watch, bot, "99.40", START)

    [sold] = trade(watch, bot, "98.90", START + timedelta(seconds=3))
    trade(watch, bot, "98.80", START + timedelta(seconds=4))

    [order] = alpaca_stub.requests_to("/v2/orders", "POST")
    assert order.body["client_order_id"] == sold.client_order_id == f"tb-{bot.pk}-AAPL-sell-stop-{position.pk}"
    assert order.body["type"] == "market" and order.body["side"] == "sell"
