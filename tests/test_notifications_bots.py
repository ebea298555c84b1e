"""What bots tell their owners: a fill, a refusal and the hold it places, a bot in error, a broker down
for minutes (the real alpaca-py client against the local stand-in, a local webhook receiver)."""

from datetime import timedelta

import pytest
from django.test import override_settings

from accounts.notifications.events import CHOOSABLE
from accounts.notifications.services import channel_save
from bots import services
from bots.maintenance import broker_stops_settle
from bots.ticks import bot_tick
from positions.models import Position
from tests import test_alpaca_ticks, test_broker_stops
from tests.factories import BotFactory
from tests.test_alpaca_ticks import AFTER_FALL, fast_retries  # noqa: F401
from tests.webhook_receiver import WebhookReceiver
from tradebot.circuits import FAILURES_TO_OPEN

market, bot = test_alpaca_ticks.market, test_alpaca_ticks.bot
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def titles(bot):
    """The titles of every message the bot's owner receives on a webhook that wants every event."""
    with WebhookReceiver() as receiver, override_settings(TRADEBOT_NOTIFY_ALLOWED_HOSTS=["127.0.0.1"]):
        channel_save(
            owner=bot.owner,
            kind="webhook",
            name="all",
            secret=f"{receiver.url}/hook",
            events=[value for value, _ in CHOOSABLE],
        )
        yield lambda: [event["title"] for _, body in receiver.received for event in body["events"]]


def test_a_fill_is_told(market, bot, titles):
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    assert titles() == [f"{bot.name}: buy 12 TEST filled at 80"]


def test_a_refusal_and_its_hold_are_told(market, bot, titles):
    market.set_account(buying_power="10")
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    assert sorted(titles()) == [f"{bot.name}: buy 12 TEST failed", f"{bot.name}: buys of TEST held"]


def test_a_bot_in_error_is_told(bot, titles):
    services.bot_fail(bot=bot, message="3 ticks failed in a row")
    assert titles() == [f"{bot.name} stopped in error"]


def test_a_broker_down_for_minutes_is_told_once(market, bot, titles):
    market.fail_next("/v2/", 503, times=1000)
    for minute in range(FAILURES_TO_OPEN):
        bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=minute))
    assert titles() == []  # open, but not down for long yet
    for minute in range(6, 9):
        bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=minute))
    [title] = titles()
    assert "the broker or its feed has been down for" in title


def test_a_stop_filled_at_alpaca_is_told_as_a_stop_loss_hit(market, alpaca_account, titles):
    stops_bot = services.bot_start(
        bot=BotFactory(config=test_broker_stops.STOP_CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    bot_tick(bot_id=stops_bot.pk, now=AFTER_FALL)
    position = Position.objects.get(bot=stops_bot, is_open=True)
    market.fill_stop(f"tb-stop-{position.pk}-1", "78.35")

    broker_stops_settle()

    assert f"{stops_bot.name}: stop-loss at broker hit on TEST, sold 12 at 78.35" in titles()
