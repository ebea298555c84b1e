"""Bad market data is an error, never a quiet idle: empty, duplicated, nonsensical, short or stale bars
fail the symbol's decision with the reason, count against the feed in /health, and never stop a held
position's stop-loss from being checked on the latest trade (the real alpaca-py client on the wire)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from bots import services
from bots.models import Bot, TickLog
from bots.ticks import bot_tick
from market.cache import clear_caches
from positions.models import Position
from tests.factories import BotFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars, fast_retries  # noqa: F401
from tradebot.tests.test_health import heartbeats_fresh
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
    # The service's own data endpoint: its failures are the service's health.
    alpaca_account.data_url = ""
    alpaca_account.save()
    return services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))


@pytest.fixture(autouse=True)
def service_feed(alpaca_stub):
    with override_settings(ALPACA_DATA_URL=alpaca_stub.url):
        yield


def decision(bot) -> dict:
    [only] = TickLog.objects.filter(bot=bot).order_by("-id")[0].decisions
    return only


def test_empty_bars_while_holding_still_sell_at_the_stop_on_the_latest_trade(market, bot):
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    assert Position.objects.get(bot=bot, is_open=True).stop_loss_price == Decimal("78.40")
    # The feed goes quiet while the price falls 12 % under the stop.
    market.load_bars("TEST", "1Min", [])
    market.set_price("TEST", "69")
    clear_caches()

    report = bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=1))

    sell = Trade.objects.get(bot=bot, type="sell")
    assert (sell.status, sell.price) == ("filled", Decimal("69"))
    assert sell.reason.startswith("stop-loss: low 69.0000 reached the stop at 78.400000 on the latest trade")
    assert "no bars from the market data feed" in sell.reason
    assert report.outcome == "traded" and not Position.objects.get(bot=bot).is_open


def test_a_held_position_above_its_stop_holds_and_says_why(market, bot):
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    market.load_bars("TEST", "1Min", [])
    clear_caches()

    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=1))

    held = decision(bot)
    assert held["action"] == "hold"
    assert held["reason"] == (
        "holding 12: no bars from the market data feed; stop and target checked on the latest trade at 80.0000"
    )


@pytest.mark.parametrize(
    "rows,reason",
    [
        ([], "no bars from the market data feed; nothing decided"),
        (falling_bars() + falling_bars()[-1:], "the feed answered twice for one bar; nothing decided"),
        (
            falling_bars()[:-1] + [(START + timedelta(minutes=59), 80.0, 79.0, 81.0, 80.0, 1000)],
            "the feed's bars are inconsistent (a high under the low, or a negative volume); nothing decided",
        ),
        (
            falling_bars()[:-1] + [(START + timedelta(minutes=59), 80.0, 80.1, 0.0, 80.0, 1000)],
            "the feed's bars hold a missing or non-positive price; nothing decided",
        ),
    ],
)
def test_bad_bars_fail_the_decision_with_the_reason_and_the_feeds_health(market, bot, client, rows, reason):
    market.load_bars("TEST", "1Min", rows)
    heartbeats_fresh()

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    assert decision(bot) | {"reason": reason} == decision(bot) and decision(bot)["action"] == "skip"
    assert market.orders == []
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["failing"] == ["market_data"]
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RUNNING


def test_stale_bars_fail_the_feeds_health_too(market, bot, client):
    heartbeats_fresh()
    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=30))
    assert decision(bot)["reason"].startswith("stale bars")
    assert client.get("/health").json()["failing"] == ["market_data"]


def test_short_bars_count_against_the_feed(market, bot, client):
    market.load_bars("TEST", "1Min", falling_bars()[-10:])  # 10 bars: RSI(14) cannot be computed
    heartbeats_fresh()

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    assert "warming up" in decision(bot)["reason"]
    assert client.get("/health").json()["failing"] == ["market_data"]
