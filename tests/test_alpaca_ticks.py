"""Ticks of a bot on an Alpaca account: the real alpaca-py client talks to the local stand-in."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django_celery_beat.models import PeriodicTask

from bots import services
from bots.models import Bot
from bots.tests.test_ticks import RSI_ONLY
from bots.ticks import MAX_CONSECUTIVE_FAILURES, bot_tick
from market.cache import clear_caches
from positions.models import Position
from tests.factories import BotFactory
from trades.models import Trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]

START = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
CONFIG = dict(RSI_ONLY, name="Alpaca RSI bot")


@pytest.fixture
def fast_retries():
    clear_caches()
    with override_settings(ALPACA_RETRY_DELAY_SECONDS=0.01, ALPACA_TIMEOUT_SECONDS=1.0):
        yield
    clear_caches()


def falling_bars(start: datetime = START) -> list[tuple]:
    """20 bars flat at 100, then 40 falling 0.5 each to 80: RSI(14) ends at 0."""
    closes = [100.0] * 20 + [100.0 - 0.5 * i for i in range(1, 41)]
    rows, previous = [], closes[0]
    for index, close in enumerate(closes):
        rows.append(
            (
                start + timedelta(minutes=index),
                previous,
                max(previous, close) + 0.1,
                min(previous, close) - 0.1,
                close,
                1000,
            )
        )
        previous = close
    return rows


@pytest.fixture
def market(alpaca_stub):
    """The stand-in open for trading, TEST at 80 after a fall."""
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars())
    alpaca_stub.set_price("TEST", "80")
    return alpaca_stub


@pytest.fixture
def bot(alpaca_account):
    return services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))


AFTER_FALL = START + timedelta(minutes=60)


def test_a_bot_buys_on_its_signal_and_its_stop_loss_sells(market, bot):
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    [order] = market.orders
    assert (order["symbol"], order["side"], order["qty"]) == ("TEST", "buy", "12")
    assert order["client_order_id"] == f"tb-{bot.pk}-TEST-buy-20240305T1459"
    buy = Trade.objects.get(bot=bot)
    assert (buy.status, buy.quantity, buy.price, buy.order_id) == ("filled", 12, Decimal("80"), order["id"])

    # The next bar falls through the stop (80 x 0.98 = 78.40); Alpaca fills the sell at 78.31.
    rows = falling_bars() + [(START + timedelta(minutes=60), 80.0, 80.1, 78.3, 78.35, 1000)]
    market.load_bars("TEST", "1Min", rows)
    market.set_price("TEST", "78.31")
    clear_caches()
    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=1))

    sell = Trade.objects.get(bot=bot, type="sell")
    assert (sell.quantity, sell.price, sell.profit_loss) == (12, Decimal("78.31"), Decimal("-20.28"))
    assert len(market.requests_to("/v2/orders", "POST")) == 2
    assert not Position.objects.get(bot=bot).is_open


def test_a_tick_that_dies_after_alpaca_accepted_the_order_is_repaired_without_a_second_order(market, bot):
    # Alpaca takes the order but every answer is lost: the tick gives up with its trade still pending.
    market.fail_next("/v2/orders", None, times=3, delay=1.5, method="POST")
    report = bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    assert report.outcome == "held"  # an outage: the bot holds, and no second order is sent after
    assert Trade.objects.get(bot=bot).status == "pending"
    assert len(market.orders) == 1

    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(seconds=30))

    trade = Trade.objects.get(bot=bot)
    assert (trade.status, trade.price, trade.order_id) == ("filled", Decimal("80"), market.orders[0]["id"])
    assert len(market.orders) == 1
    assert Position.objects.get(bot=bot, is_open=True).quantity == 12


def test_a_rejected_order_is_a_failed_trade_with_alpacas_message(market, bot):
    market.set_account(buying_power="10")

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    trade = Trade.objects.get(bot=bot)
    assert trade.status == "failed" and "buying power" in trade.message
    assert not Position.objects.filter(bot=bot).exists()
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RUNNING


def test_a_broker_error_that_is_no_outage_three_times_running_puts_the_bot_in_error(market, bot):
    market.fail_next("/v2/clock", 404, times=100)

    reports = [bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=i)) for i in range(MAX_CONSECUTIVE_FAILURES)]

    assert [r.outcome for r in reports] == ["failed"] * MAX_CONSECUTIVE_FAILURES
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ERROR and "404" in bot.status_reason
    assert bot.status_reason.startswith(f"{MAX_CONSECUTIVE_FAILURES} ticks failed in a row")
    assert bot.consecutive_failures == MAX_CONSECUTIVE_FAILURES  # as the reason says
    assert not PeriodicTask.objects.get(pk=bot.periodic_task_id).enabled
    assert bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=9)).outcome == "skipped"


def test_refused_keys_put_the_bot_in_error_at_once_a_person_must_fix_them(market, bot):
    market.api_key = "rotated-at-alpaca"  # the account's keys no longer open it

    report = bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    bot.refresh_from_db()
    assert report.outcome == "failed" and bot.status == Bot.Status.ERROR
    assert bot.status_reason.startswith("Alpaca refused clock for this account: HTTP 403")
    assert "enter the account's keys again" in bot.status_reason


def test_an_outage_holds_the_bots_behind_it_and_they_resume_by_themselves(market, bot, alpaca_account):
    other = services.bot_start(
        bot=BotFactory(config=dict(CONFIG, name="Second"), owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    market.fail_next("/v2/clock", 503, times=1000)

    # Three ticks fail against the endpoint (each with its own retries): its circuit opens.
    reports = [bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(seconds=10 * i)) for i in range(3)]
    assert [r.outcome for r in reports] == ["held"] * 3
    assert "entries held, retried with back-off" in reports[0].message
    calls = len(market.requests_to("/v2/clock"))

    # Every bot behind it now holds without calling it, and none is ever put in error.
    held = bot_tick(bot_id=other.pk, now=AFTER_FALL + timedelta(seconds=31))
    assert held.outcome == "held" and held.message.startswith("the broker or its feed is down for")
    assert len(market.requests_to("/v2/clock")) == calls
    assert {b.status for b in Bot.objects.filter(pk__in=[bot.pk, other.pk])} == {Bot.Status.RUNNING}

    # After the pause one tick probes; the endpoint answers again: the bots resume and say so.
    market.recover()
    resumed = bot_tick(bot_id=other.pk, now=AFTER_FALL + timedelta(minutes=2))
    assert resumed.outcome == "traded"
    assert resumed.message.startswith("resumed: the broker and its feed answer again after")
    assert bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=2, seconds=1)).outcome != "held"


def test_alpacas_clock_keeps_the_bot_out_of_a_closed_market(market, bot):
    market.set_clock(is_open=False, next_open=START + timedelta(days=1), next_close=START + timedelta(days=1, hours=7))

    report = bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    assert report.outcome == "skipped" and "market closed" in report.message
    assert not market.requests_to("/v2/orders")


def test_a_buy_still_pending_at_alpaca_holds_its_cash_from_the_next_symbol(market, bot):
    services.bot_update(
        bot=bot,
        config=services.parse_config(
            dict(CONFIG, name=bot.name, symbols=["TEST", "MORE"], risk_management={"max_position_size": 0.6})
        ),
    )
    market.load_bars("MORE", "1Min", falling_bars())
    market.set_price("MORE", "80")
    market.accept_without_fill = True  # as outside market hours: accepted, not filled

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    first, second = sorted(market.orders, key=lambda order: order["symbol"] != "TEST")
    # TEST: floor(10000 x 0.6 / 80) = 75 shares, 6000 of cash held while pending; MORE gets what is left.
    assert (first["symbol"], first["qty"]) == ("TEST", "75")
    assert (second["symbol"], second["qty"]) == ("MORE", "50")  # floor(4000 / 80)
    assert set(Trade.objects.filter(bot=bot).values_list("status", flat=True)) == {"pending"}


def test_a_close_filled_after_the_bot_was_stopped_is_recorded_by_the_settling_task(market, bot):
    from bots.maintenance import pending_orders_settle
    from bots.orders import position_close

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    position = Position.objects.get(bot=bot, is_open=True)
    services.bot_stop(bot=bot, close_positions=False)
    market.accept_without_fill = True  # the market is closed: Alpaca accepts, fills later
    close = position_close(position=position)
    assert close.status == "pending"

    market.update_order(
        close.client_order_id,
        status="filled",
        filled_qty="12",
        filled_avg_price="81.5",
        filled_at="2024-03-05T15:10:00Z",
    )
    assert pending_orders_settle() == 1

    close.refresh_from_db()
    assert (close.status, close.price, close.profit_loss) == (
        "filled",
        Decimal("81.5"),
        Decimal("18"),
    )  # (81.50 - 80) x 12
    assert not Position.objects.get(pk=position.pk).is_open
    assert len(market.orders) == 2


def test_closing_through_the_api_answers_what_the_broker_did(market, bot):
    from tests.api_client import api_client

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    position = Position.objects.get(bot=bot, is_open=True)
    client = api_client(bot.owner)

    # Alpaca refuses the sell (the shares were sold elsewhere): a 409 with its reason, never a 200.
    market.add_position("TEST", 0, "80")
    refused = client.post(f"/positions/{position.pk}/close")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(
        "the close of TEST did not happen: the broker refused it: insufficient qty"
    )
    assert Position.objects.get(pk=position.pk).is_open

    # Taken but not filled yet (as outside market hours): 202, the position closes when it fills.
    market.add_position("TEST", 12, "80")
    market.accept_without_fill = True
    accepted = client.post(f"/positions/{position.pk}/close")
    assert accepted.status_code == 202 and accepted.json()["trade"]["status"] == "pending"
