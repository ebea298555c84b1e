"""Stops resting at Alpaca (`risk_management.stop_at_broker`): placed when an entry fills, cancelled
(and the cancel confirmed) before any exit's sell, and their fills recorded when found -- the real
alpaca-py client against the stand-in, which holds a resting stop's shares as Alpaca does."""

from datetime import timedelta
from decimal import Decimal

import pytest

from bots import services
from bots.connections import account_feed
from bots.exit_watch import ExitWatch
from bots.maintenance import broker_stops_settle, pending_orders_settle
from bots.models import BrokerStop
from bots.orders import order_update_apply
from bots.reconciliation import account_reconcile
from bots.ticks import bot_tick
from brokers.alpaca import order_result
from market.cache import clear_caches
from positions.models import Position
from tests.api_client import api_client
from tests.factories import BotFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars, fast_retries  # noqa: F401
from trades.models import Trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]

STOP_CONFIG = dict(CONFIG, risk_management=dict(CONFIG["risk_management"], stop_at_broker=True))
NEXT_BAR = START + timedelta(minutes=60)


@pytest.fixture
def market(alpaca_stub):
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars())
    alpaca_stub.set_price("TEST", "80")
    return alpaca_stub


@pytest.fixture
def bot(alpaca_account):
    return services.bot_start(
        bot=BotFactory(config=STOP_CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account)
    )


@pytest.fixture
def holding(market, bot) -> Position:
    """The bot bought 12 TEST at 80; its stop rests at Alpaca."""
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    return Position.objects.get(bot=bot, is_open=True)


def stop_orders(market) -> list[dict]:
    return [order for order in market.orders if order["type"] == "stop"]


def market_sells(market) -> list[dict]:
    return [order for order in market.orders if order["type"] == "market" and order["side"] == "sell"]


def next_bar(market, high: float, low: float, close: float) -> None:
    market.load_bars("TEST", "1Min", falling_bars() + [(NEXT_BAR, 80.0, high, low, close, 1000)])
    clear_caches()


def test_an_entry_fill_rests_a_gtc_stop_at_alpaca_for_the_positions_shares(market, holding):
    [stop] = stop_orders(market)
    [request] = [r for r in market.requests_to("/v2/orders", "POST") if r.body["type"] == "stop"]
    # 80 x (1 - 0.02), sent as Alpaca's JSON numbers: a sell of the 12 shares bought, good till cancelled.
    assert request.body == {
        "symbol": "TEST",
        "qty": 12.0,
        "side": "sell",
        "type": "stop",
        "time_in_force": "gtc",
        "stop_price": 78.4,
        "client_order_id": f"tb-stop-{holding.pk}-1",
    }
    assert (stop["status"], stop["extended_hours"]) == ("new", False)
    resting = BrokerStop.objects.get(position=holding)
    assert (resting.status, resting.order_id, resting.quantity) == ("working", stop["id"], 12)
    assert resting.stop_price == Decimal("78.40")


def test_a_stop_whose_answer_was_lost_is_found_at_alpaca_and_never_sent_twice(market, bot):
    market.accept_without_fill = True
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    [buy] = market.orders
    # Alpaca takes the stop but every answer to it is lost.
    market.fail_next("/v2/orders", None, times=20, delay=1.5, method="POST")
    market.update_order(buy["client_order_id"], status="filled", filled_qty="12", filled_avg_price="80")
    market.add_position("TEST", 12, "80")
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=1))
    resting = BrokerStop.objects.get()
    assert resting.status == "sending" and len(stop_orders(market)) == 1
    market.recover()

    broker_stops_settle()
    broker_stops_settle()

    resting.refresh_from_db()
    [stop] = stop_orders(market)
    assert (resting.status, resting.order_id, resting.client_order_id) == (
        "working",
        stop["id"],
        stop["client_order_id"],
    )
    assert BrokerStop.objects.count() == 1


def test_a_signal_exit_cancels_the_stop_then_sells(market, holding):
    # 40 bars rising to 83.8: RSI(14) overbought, the price still under the 84 target.
    rising = [80 + 0.095 * i for i in range(41)]
    rows = falling_bars() + [
        (NEXT_BAR + timedelta(minutes=i), rising[i], rising[i + 1] + 0.05, rising[i] - 0.05, rising[i + 1], 1000)
        for i in range(40)
    ]
    market.load_bars("TEST", "1Min", rows)
    market.set_price("TEST", "83.8")
    clear_caches()

    bot_tick(bot_id=holding.bot_id, now=NEXT_BAR + timedelta(minutes=40))

    sell = Trade.objects.get(bot=holding.bot_id, type="sell")
    assert sell.status == "filled" and "RSI" in sell.reason
    assert _cancel_came_before_the_sell(market)
    [stop] = stop_orders(market)
    assert stop["status"] == "canceled"
    assert BrokerStop.objects.get().status == "cancelled"
    assert not Position.objects.get(pk=holding.pk).is_open


def _cancel_came_before_the_sell(market) -> bool:
    [stop] = stop_orders(market)
    [cancel] = market.requests_to(f"/v2/orders/{stop['id']}", "DELETE")
    [sell] = [
        r for r in market.requests_to("/v2/orders", "POST") if r.body["type"] == "market" and r.body["side"] == "sell"
    ]
    return cancel.at < sell.at


@pytest.mark.parametrize("exit_by", ["take-profit", "closed by hand", "bot stopped with close"])
def test_every_other_exit_cancels_the_stop_first_too(market, holding, exit_by):
    if exit_by == "take-profit":
        next_bar(market, high=84.2, low=80, close=84.1)  # through the 84 target
        market.set_price("TEST", "84.1")
        bot_tick(bot_id=holding.bot_id, now=AFTER_FALL + timedelta(minutes=1))
    elif exit_by == "closed by hand":
        assert api_client(holding.owner).post(f"/positions/{holding.pk}/close").status_code == 200
    else:
        services.bot_stop(bot=holding.bot, close_positions=True)

    assert _cancel_came_before_the_sell(market)
    assert len(market_sells(market)) == 1
    assert not Position.objects.get(pk=holding.pk).is_open


def test_the_exit_watcher_cancels_the_stop_first_too(market, holding):
    bot = holding.bot
    feed = account_feed(bot.broker_account).identity
    watch = ExitWatch()
    market.set_price("TEST", "78.30")
    at = AFTER_FALL + timedelta(seconds=30)

    watch.trade_seen(feed=feed, symbol="TEST", price=Decimal("79"), at=at)
    [sold] = watch.trade_seen(feed=feed, symbol="TEST", price=Decimal("78.30"), at=at + timedelta(seconds=1))

    assert sold.reason.startswith("stop-loss") and sold.status == "filled"
    assert _cancel_came_before_the_sell(market)
    assert not Position.objects.get(pk=holding.pk).is_open


def test_a_stop_filled_at_alpaca_while_tradebot_was_down_closes_the_position_from_its_fill(market, holding):
    market.fill_stop(f"tb-stop-{holding.pk}-1", "78.35")

    pending_orders_settle()
    broker_stops_settle()

    position = Position.objects.get(pk=holding.pk)
    assert (position.is_open, position.exit_price) == (False, Decimal("78.35"))
    sell = Trade.objects.get(bot=holding.bot_id, type="sell")
    assert sell.reason == "stop-loss at broker: the stop at 78.40 filled"
    assert (sell.status, sell.quantity, sell.profit_loss) == ("filled", 12, Decimal("-19.80"))
    assert sell.slippage == Decimal("0.60")  # 5 cents a share under the stop
    assert BrokerStop.objects.get().status == "filled"
    assert market_sells(market) == []
    assert account_reconcile(account=holding.bot.broker_account) == []  # the books agree with Alpaca's


def test_an_exit_finding_the_stop_already_filled_sends_no_sell(market, holding):
    market.fill_stop(f"tb-stop-{holding.pk}-1", "78.38")
    next_bar(market, high=80.1, low=78.3, close=78.35)  # the tick sees the stop crossed too

    bot_tick(bot_id=holding.bot_id, now=AFTER_FALL + timedelta(minutes=1))

    assert market_sells(market) == []
    [sell] = Trade.objects.filter(bot=holding.bot_id, type="sell")
    assert (sell.client_order_id, sell.price) == (f"tb-stop-{holding.pk}-1", Decimal("78.38"))
    assert not Position.objects.get(pk=holding.pk).is_open


def test_reconciliation_records_a_stop_filled_while_nothing_ran(market, holding):
    market.fill_stop(f"tb-stop-{holding.pk}-1")

    assert account_reconcile(account=holding.bot.broker_account) == []

    position = Position.objects.get(pk=holding.pk)
    assert (position.is_open, position.exit_price) == (False, Decimal("78.40"))


def test_a_stop_fill_from_the_stream_is_applied_once_however_often_it_arrives(market, holding):
    from alpaca.trading.models import Order

    filled = order_result(Order(**market.fill_stop(f"tb-stop-{holding.pk}-1", "78.30")))
    accounts = [holding.bot.broker_account_id]

    sell = order_update_apply(account_ids=accounts, result=filled)
    assert order_update_apply(account_ids=accounts, result=filled) is None

    assert (sell.client_order_id, sell.price, sell.profit_loss) == (
        f"tb-stop-{holding.pk}-1",
        Decimal("78.30"),
        Decimal("-20.40"),
    )
    assert Trade.objects.filter(bot=holding.bot_id, type="sell").count() == 1
    assert not Position.objects.get(pk=holding.pk).is_open


def test_a_stop_filled_in_part_leaves_the_rest_protected(market, holding):
    market.fill_stop(f"tb-stop-{holding.pk}-1", "78.40", qty=5)
    broker_stops_settle()
    assert Position.objects.get(pk=holding.pk).quantity == 7
    # The rest of the stop then goes too.
    market.fill_stop(f"tb-stop-{holding.pk}-1", "78.30")
    pending_orders_settle()
    broker_stops_settle()

    sell = Trade.objects.get(bot=holding.bot_id, type="sell")
    assert (sell.status, sell.quantity, sell.price) == ("filled", 12, Decimal("78.341667"))
    assert not Position.objects.get(pk=holding.pk).is_open
    assert BrokerStop.objects.get().status == "filled"


def test_a_sell_that_ends_with_shares_left_rests_a_stop_for_them(market, holding):
    market.accept_without_fill = True
    assert api_client(holding.owner).post(f"/positions/{holding.pk}/close").status_code == 202
    [sell] = market_sells(market)
    # Alpaca sells 5 of the 12, then cancels the rest.
    market.update_order(sell["client_order_id"], status="canceled", filled_qty="5", filled_avg_price="79")
    market.add_position("TEST", 7, "80")

    pending_orders_settle()

    assert Position.objects.get(pk=holding.pk).quantity == 7
    first, second = stop_orders(market)
    assert first["status"] == "canceled"
    assert (second["qty"], second["client_order_id"], second["status"]) == ("7", f"tb-stop-{holding.pk}-2", "new")


def test_a_buy_filled_in_part_then_whole_replaces_its_stop(market, bot):
    market.accept_without_fill = True
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    [buy] = market.orders
    market.update_order(buy["client_order_id"], status="partially_filled", filled_qty="4", filled_avg_price="80")
    market.add_position("TEST", 4, "80")
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=1))
    position = Position.objects.get(bot=bot, is_open=True)
    [first] = stop_orders(market)
    assert (first["qty"], first["client_order_id"]) == ("4", f"tb-stop-{position.pk}-1")

    market.update_order(buy["client_order_id"], status="filled", filled_qty="12", filled_avg_price="80")
    market.add_position("TEST", 12, "80")
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=2))

    first, second = stop_orders(market)
    assert first["status"] == "canceled"
    assert (second["qty"], second["client_order_id"], second["status"]) == ("12", f"tb-stop-{position.pk}-2", "new")
    assert list(BrokerStop.objects.order_by("number").values_list("status", flat=True)) == ["cancelled", "working"]


def test_a_stop_alpaca_ended_is_placed_again_by_the_repair_path(market, holding):
    market.update_order(f"tb-stop-{holding.pk}-1", status="expired")  # Alpaca's GTC limit: 90 days

    broker_stops_settle()

    first, second = stop_orders(market)
    assert (first["status"], second["status"], second["qty"]) == ("expired", "new", "12")
    assert BrokerStop.objects.get(number=1).status == "cancelled"


def test_adopting_alpacas_quantity_replaces_the_stop_for_it(market, holding):
    market.update_order(f"tb-stop-{holding.pk}-1", status="canceled")  # cancelled by hand at Alpaca...
    market.add_position("TEST", 4, "80")  # ...to sell 8 of the 12 there
    [mismatch] = account_reconcile(account=holding.bot.broker_account)

    api_client(holding.owner).post(f"/mismatches/{mismatch.pk}/fix", json={"fix": "adopt"})

    assert Position.objects.get(pk=holding.pk).quantity == 4
    first, second = stop_orders(market)
    assert first["status"] == "canceled" and (second["qty"], second["status"]) == ("4", "new")
    # Reconciliation tried to rest the 12 first; Alpaca refused (4 held), and that refusal is on record.
    statuses = BrokerStop.objects.order_by("number").values_list("quantity", "status")
    assert list(statuses) == [(12, "cancelled"), (12, "refused"), (4, "working")]


def test_turning_the_option_off_cancels_the_resting_stop(market, holding):
    bot = holding.bot
    services.bot_update(bot=bot, config=services.parse_config(CONFIG | {"name": bot.name}))

    broker_stops_settle()

    [stop] = stop_orders(market)
    assert stop["status"] == "canceled" and BrokerStop.objects.get().status == "cancelled"
    assert Position.objects.get(pk=holding.pk).is_open


def test_the_option_needs_an_alpaca_account_and_a_stop_loss(alpaca_account, user):
    sim = api_client(user).post("/bots", json=STOP_CONFIG)
    assert sim.status_code == 422
    assert sim.json()["detail"] == [
        {
            "field": "risk_management.stop_at_broker",
            "message": "needs an Alpaca broker account: the simulated broker keeps no orders resting",
        }
    ]
    no_stop = dict(STOP_CONFIG, risk_management={"stop_at_broker": True}, broker_account_id=alpaca_account.pk)
    refused = api_client(alpaca_account.owner).post("/bots", json=no_stop)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["detail"]] == ["risk_management.stop_at_broker"]
    assert (
        api_client(alpaca_account.owner)
        .post("/bots", json=STOP_CONFIG | {"broker_account_id": alpaca_account.pk})
        .status_code
        == 201
    )
