"""A refusal the broker will repeat holds the bot's orders for that symbol with the broker's reason and
tells its owner; it is not resent every bar (the real alpaca-py client against the stand-in)."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import override_settings

from bots import services
from bots.maintenance import bots_daily_reset, pending_orders_settle
from bots.models import BotHold, TickLog
from bots.ticks import bot_tick
from market.cache import clear_caches
from tests.api_client import api_client
from tests.factories import BotFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars, fast_retries  # noqa: F401
from tradebot.events import user_group
from trades.models import Trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def market(alpaca_stub):
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars())
    alpaca_stub.set_price("TEST", "80")
    return alpaca_stub


@pytest.fixture
def bot(alpaca_account):
    return services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))


def next_bar(market, minute: int) -> None:
    """One more falling bar, so the next tick decides on a new bar (and would place a new order)."""
    rows = falling_bars() + [
        (START + timedelta(minutes=60 + n), 80.0 - n * 0.1, 80.1, 79.0 - n * 0.1, 79.5 - n * 0.1, 1000)
        for n in range(minute)
    ]
    market.load_bars("TEST", "1Min", rows)
    clear_caches()


def test_a_refused_buy_holds_entries_on_that_symbol_instead_of_resending_every_bar(
    market, bot, django_capture_on_commit_callbacks
):
    # Alpaca refuses the account's orders (its buying power is ample: the refusal is Alpaca's own).
    refusal = '{"code": 40310000, "message": "account is not authorized to trade"}'
    market.fail_next("/v2/orders", 403, times=1, method="POST", body=refusal)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(bot.owner_id), channel)

    with django_capture_on_commit_callbacks(execute=True):
        bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    refused = Trade.objects.get(bot=bot)
    assert refused.status == "failed" and refused.message == "account is not authorized to trade"
    [hold] = BotHold.objects.filter(bot=bot, released_at__isnull=True)
    assert (hold.symbol, hold.side, hold.reason) == ("TEST", "buy", "account is not authorized to trade")
    # The owner is told, on their live channel.
    events = [async_to_sync(layer.receive)(channel) for _ in range(2)]
    assert "hold_changed" in {event["event"] for event in events}

    for minute in range(1, 4):  # three more bars: no order reaches Alpaca
        next_bar(market, minute)
        bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=minute))
    assert len(market.requests_to("/v2/orders", "POST")) == 1
    decision = TickLog.objects.filter(bot=bot).order_by("-id")[0].decisions[0]
    assert decision["action"] == "skip"
    assert decision["reason"].startswith(
        "entries held since the broker refused: account is not authorized to trade (buy signal"
    )
    body = api_client(bot.owner).get(f"/bots/{bot.pk}").json()
    assert [(h["symbol"], h["side"], h["reason"]) for h in body["holds"]] == [
        ("TEST", "buy", "account is not authorized to trade")
    ]

    # Released by the owner (the account was fixed at Alpaca): the next bar's order goes out.
    released = api_client(bot.owner).post(f"/bots/{bot.pk}/holds/{hold.pk}/release")
    assert released.status_code == 200 and released.json()["holds"] == []
    next_bar(market, 4)
    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=4))
    assert [o["side"] for o in market.orders] == ["buy"] and Trade.objects.filter(bot=bot, status="filled").exists()


def test_an_order_rejected_after_alpaca_took_it_holds_too(market, bot):
    market.accept_without_fill = True
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    [order] = market.orders
    market.update_order(order["client_order_id"], status="rejected")

    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=1))

    assert Trade.objects.get(bot=bot).status == "failed"
    assert BotHold.objects.get(bot=bot).reason == "Alpaca order rejected"
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=2))  # looking again makes no second hold
    assert BotHold.objects.filter(bot=bot).count() == 1


def test_a_buy_the_account_cannot_pay_for_is_refused_before_it_is_sent_and_says_so(market, bot):
    market.set_account(buying_power="500")

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    refused = Trade.objects.get(bot=bot)
    assert refused.status == "failed"
    assert refused.message == "insufficient buying power at the broker: 500.00 for an order of about 960.00"
    assert not market.requests_to("/v2/orders", "POST")
    assert BotHold.objects.get(bot=bot).side == "buy"


def test_a_new_session_releases_the_holds_of_refusals(market, bot):
    market.set_account(buying_power="10")
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    hold = BotHold.objects.get(bot=bot)
    BotHold.objects.filter(pk=hold.pk).update(created_at=AFTER_FALL - timedelta(days=1))

    with override_settings(TRADEBOT_SIM_ALWAYS_OPEN=True):  # a session opens every New York midnight
        bots_daily_reset()

    hold.refresh_from_db()
    assert hold.released_at is not None and hold.released_why == "a new session opened"
