"""The stream service against both Alpaca stand-ins (REST and streams), with the real alpaca-py clients:
subscriptions follow the bots, a dropped stream comes back and back-fills, fills arrive by stream
(even before the order's HTTP answer), prices are coalesced, a closed bar ticks its bots at once."""

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.layers import get_channel_layer
from django.db import OperationalError
from django.test import override_settings

from bots import services
from bots.models import BookMismatch, TickLog
from bots.stream import StreamService
from bots.ticks import bot_tick
from positions.models import Position
from tests.alpaca_stream_stub import TRADING, bar, order_update, trade
from tests.factories import BotFactory, BrokerAccountFactory, PositionFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars, fast_retries  # noqa: F401
from tradebot import health
from tradebot.events import user_group
from trades.models import Trade

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def market(alpaca_stub):
    """The REST stand-in open for trading, TEST at 80 after a fall."""
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars())
    alpaca_stub.set_price("TEST", "80")
    return alpaca_stub


@pytest.fixture
def streams(alpaca_stream_stub):
    with override_settings(
        ALPACA_DATA_STREAM_URL=alpaca_stream_stub.data_url("").rstrip("/"),
        ALPACA_TRADING_STREAM_URL=alpaca_stream_stub.trading_url,
    ):
        yield alpaca_stream_stub


@pytest.fixture
def service(streams):
    service = StreamService(reconcile_seconds=0.2, reconcile_accounts=False)
    with service:
        yield service


def fast_backoff(service: StreamService) -> None:
    for stream in [*service.market_streams.values(), *service.order_streams.values()]:
        stream.client._reconnect_min_backoff, stream.client._reconnect_max_backoff = 0.05, 0.2


def wait_for(condition, timeout: float = 5.0, what: str = "condition") -> float:
    """Seconds it took `condition()` to hold."""
    started = time.monotonic()
    while not holds(condition):
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - started


def holds(condition) -> bool:
    try:
        return bool(condition())
    except OperationalError:  # the test database (SQLite in memory) was locked by a service thread: look again
        return False


def wait_consuming(streams, service, symbol: str, price=1) -> None:
    """Until alpaca-py reads data and takes subscription changes (see the stub's docstring)."""
    seen = service.messages
    streams.push(trade(symbol, datetime.now(UTC), price, 1))
    wait_for(lambda: service.messages > seen, what="data flowing")
    wait_for(lambda: all(s.in_session for s in service.market_streams.values()), what="in session")


def test_subscriptions_follow_bots_starting_editing_stopping_and_positions_held(
    market, alpaca_account, streams, request
):
    # Its periodic round a minute away: what follows the bots is their rows changing.
    service = StreamService(reconcile_seconds=60, reconcile_accounts=False).start()
    request.addfinalizer(service.stop)
    bot = services.bot_start(
        bot=BotFactory(
            config=dict(CONFIG, symbols=["AAPL", "MSFT"]), owner=alpaca_account.owner, broker_account=alpaca_account
        )
    )
    connection = streams.wait_for_subscription("trades", "AAPL", "MSFT")
    assert connection.subscriptions["bars"] == {"AAPL", "MSFT"}
    assert connection.path == "/v2/iex"  # the account's feed
    wait_consuming(streams, service, "AAPL")

    bot.symbols = ["AAPL", "TSLA"]
    bot.save()
    streams.wait_for_subscription("trades", "AAPL", "TSLA", timeout=1.0)
    streams.wait_for_subscription("bars", "AAPL", "TSLA", timeout=1.0)

    # Stopped, the bot wants nothing, but its open position's symbol stays watched.
    PositionFactory(bot=bot, symbol="TSLA")
    services.bot_stop(bot=bot, close_positions=False)
    streams.wait_for_subscription("trades", "TSLA", timeout=1.0)
    assert len([c for c in streams.connections if c.kind == "data"]) == 1  # one connection all along
    wait_for(lambda: service.report()[0]["subscriptions"] == 1, what="the report following")
    [data, orders] = service.report()
    assert (data["name"], data["connected"], data["reconnects"]) == ("alpaca data iex", True, 0)
    assert (orders["name"], orders["connected"]) == ("alpaca trade_updates", True)
    # The same, as /health shows it from any process (through the cache).
    wait_for(lambda: health.check_stream()["connections"][0]["subscriptions"] == 1, what="/health following")
    assert health.check_stream()["ok"]


def test_a_stream_dropped_mid_session_reconnects_resubscribes_and_back_fills(market, alpaca_account, streams, service):
    bot = services.bot_start(
        bot=BotFactory(config=dict(CONFIG, symbols=["TEST"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    position = PositionFactory(
        bot=bot, symbol="TEST", quantity=5, entry_price=Decimal("80"), current_price=Decimal("80")
    )
    service.reconcile_soon()
    streams.wait_for_subscription("trades", "TEST")
    fast_backoff(service)
    wait_consuming(streams, service, "TEST")
    # The last trade seen before the drop, near the end of the stand-in's bars.
    streams.push(trade("TEST", START + timedelta(minutes=55, seconds=30), "81", 10))
    wait_for(lambda: Position.objects.get(pk=position.pk).current_price == Decimal("81"), what="marked at 81")
    first = [c.number for c in streams.connections if c.kind == "data"]

    streams.drop(abrupt=True)

    again = streams.wait_for_subscription("trades", "TEST")
    assert again.number > max(first)
    assert again.subscriptions["bars"] == {"TEST"}
    # The minutes missed come over REST: from the last trade seen's minute, the last close is the price.
    wait_for(lambda: Position.objects.get(pk=position.pk).current_price == Decimal("80"), what="back-filled price")
    [request] = [
        r for r in market.requests_to("/v2/stocks/bars") if r.query.get("start", "").startswith("2024-03-05T14:55")
    ]
    assert request.query["symbols"] == "TEST"
    # And the bars that closed meanwhile ticked the bot, once per close at most.
    wait_for(lambda: TickLog.objects.filter(bot=bot).exists(), what="a back-filled bar's tick")


def test_a_fill_by_stream_before_the_orders_http_answer_is_recorded_once(market, alpaca_account, streams, service):
    market.accept_without_fill = True
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))
    service.reconcile_soon()
    streams.wait_for_listener()
    # Alpaca takes the order at once but its answer is slow: the fill comes by stream first.
    market.fail_next("/v2/orders", None, delay=2.0, method="POST")
    ticking = threading.Thread(target=bot_tick, kwargs={"bot_id": bot.pk, "now": AFTER_FALL})
    ticking.start()
    wait_for(lambda: market.orders, what="the order at Alpaca")
    [order] = market.orders
    update = order_update(order, "fill", price="79.95")
    market.update_order(order["client_order_id"], **update["order"])

    pushed = time.monotonic()
    streams.push_trade_update(update)
    wait_for(lambda: Trade.objects.get(bot=bot).status == "filled", timeout=1.0, what="the fill recorded")
    took = time.monotonic() - pushed
    assert ticking.is_alive(), "the HTTP answer was meant to come after the fill"
    ticking.join(10)

    [buy] = Trade.objects.filter(bot=bot)
    assert (buy.status, buy.quantity, buy.filled_quantity, buy.price) == ("filled", 12, 12, Decimal("79.95"))
    assert buy.order_id == order["id"]
    [held] = Position.objects.filter(bot=bot)
    assert (held.is_open, held.quantity, held.entry_price) == (True, 12, Decimal("79.95"))
    assert took < 1.0


def test_partial_fills_then_a_cancel_by_stream_leave_the_shares_filled(market, alpaca_account, streams, service):
    market.accept_without_fill = True
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))
    service.reconcile_soon()
    streams.wait_for_listener()
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    [order] = market.orders
    first = order_update(order, "partial_fill", qty=5, price="80")
    streams.push_trade_update(first)
    wait_for(lambda: Trade.objects.get(bot=bot).filled_quantity == 5, timeout=1.0, what="the partial fill")
    second = order_update(first["order"], "canceled")
    streams.push_trade_update(second)
    wait_for(lambda: Trade.objects.get(bot=bot).status == "filled", timeout=1.0, what="the cancel")
    buy = Trade.objects.get(bot=bot)
    assert (buy.quantity, buy.price) == (5, Decimal("80"))
    assert Position.objects.get(bot=bot, is_open=True).quantity == 5


def drain(group: str):
    """A channel in `group`, and a function returning every event it received so far."""
    layer = get_channel_layer()
    # One loop for every call: Redis's channel layer binds a channel's queue to the loop that first reads it.
    loop = asyncio.new_event_loop()
    channel = loop.run_until_complete(layer.new_channel())
    loop.run_until_complete(layer.group_add(group, channel))

    async def receive_all() -> list[dict]:
        events = []
        while True:
            try:
                events.append(await asyncio.wait_for(layer.receive(channel), 0.2))
            except TimeoutError:
                return events

    return lambda: loop.run_until_complete(receive_all())


def test_price_events_are_coalesced_to_a_few_a_second_per_symbol(alpaca_account, streams, service):
    bot = services.bot_start(
        bot=BotFactory(config=dict(CONFIG, symbols=["AAPL"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    received = drain(user_group(bot.owner_id))
    service.reconcile_soon()
    streams.wait_for_subscription("trades", "AAPL")
    wait_consuming(streams, service, "AAPL")
    received()

    # 200 trades over a second: the pages get at most ~4 prices, the last one the last trade's.
    started = time.monotonic()
    for index in range(200):
        streams.push(trade("AAPL", datetime.now(UTC), 100 + index / 100, 1))
        time.sleep(0.005)
    elapsed = time.monotonic() - started
    time.sleep(0.4)
    prices = [event for event in received() if event["event"] == "price_update"]
    assert 2 <= len(prices) <= int(elapsed / 0.25) + 2
    assert prices[-1]["data"]["price"] == "101.99"
    assert set(prices[-1]["data"]) == {"symbol", "price", "timestamp"}


def test_a_closed_bar_ticks_the_bots_whose_bar_it_closes_within_a_second(alpaca_account, streams, service):
    minute = BotFactory(
        config=dict(CONFIG, symbols=["AAPL"]), owner=alpaca_account.owner, broker_account=alpaca_account
    )
    five = BotFactory(
        config=dict(CONFIG, symbols=["AAPL"], timeframe="5Min"),
        owner=alpaca_account.owner,
        broker_account=alpaca_account,
    )
    for bot in (minute, five):
        services.bot_start(bot=bot)
    service.reconcile_soon()
    streams.wait_for_subscription("bars", "AAPL")
    wait_consuming(streams, service, "AAPL")

    # A bar closing at 15:03: the 1Min bot's, not the 5Min bot's.
    pushed = time.monotonic()
    streams.push(bar("AAPL", datetime(2024, 3, 5, 15, 2, tzinfo=UTC), 100, 101, 99, 100.5, 1000))
    took = wait_for(lambda: TickLog.objects.filter(bot=minute).exists(), timeout=1.0, what="the 1Min tick")
    assert time.monotonic() - pushed < 1.0 and took < 1.0
    # The bar closing at 15:05 closes both; each bot ticks once per close, however often it is seen.
    streams.push(bar("AAPL", datetime(2024, 3, 5, 15, 4, tzinfo=UTC), 100, 101, 99, 100.5, 1000))
    streams.push(bar("AAPL", datetime(2024, 3, 5, 15, 4, tzinfo=UTC), 100, 101, 99, 100.5, 1000))
    wait_for(lambda: TickLog.objects.filter(bot=five).exists(), timeout=1.0, what="the 5Min tick")
    time.sleep(0.3)
    assert TickLog.objects.filter(bot=minute).count() == 2
    assert TickLog.objects.filter(bot=five).count() == 1


def test_trade_updates_reconnect_and_settle_what_was_missed_over_rest(market, alpaca_account, streams, service):
    market.accept_without_fill = True
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))
    service.reconcile_soon()
    streams.wait_for_listener()
    fast_backoff(service)
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    [order] = market.orders

    streams.drop(TRADING)
    # Filled while the stream was down: nothing on the stream tells, REST does after the reconnect.
    market.update_order(order["client_order_id"], status="filled", filled_qty="12", filled_avg_price="80.1")
    streams.wait_until(lambda: sum(c.kind == TRADING and c.open for c in streams.connections) == 1)
    wait_for(lambda: Trade.objects.get(bot=bot).status == "filled", what="settled after the gap")
    assert Trade.objects.get(bot=bot).price == Decimal("80.1")


def test_a_resting_stop_filled_while_trade_updates_were_down_closes_its_position_after_the_reconnect(
    market, alpaca_account, streams, service
):
    config = dict(CONFIG, risk_management=dict(CONFIG["risk_management"], stop_at_broker=True))
    bot = services.bot_start(bot=BotFactory(config=config, owner=alpaca_account.owner, broker_account=alpaca_account))
    service.reconcile_soon()
    streams.wait_for_listener()
    fast_backoff(service)
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    position = Position.objects.get(bot=bot, is_open=True)

    streams.drop(TRADING)
    market.fill_stop(f"tb-stop-{position.pk}-1", "78.35")  # while the stream was down: only REST tells
    streams.wait_until(lambda: sum(c.kind == TRADING and c.open for c in streams.connections) == 1)
    wait_for(lambda: not Position.objects.get(pk=position.pk).is_open, what="the stop's fill settled after the gap")
    assert Position.objects.get(pk=position.pk).exit_price == Decimal("78.35")
    assert not [o for o in market.orders if o["side"] == "sell" and o["type"] == "market"]


def test_a_trade_through_a_stopped_bots_stop_sells_within_a_second(market, alpaca_account, streams, service):
    bot = BotFactory(config=dict(CONFIG, symbols=["TEST"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    position = PositionFactory(
        bot=bot, symbol="TEST", quantity=5, entry_price=Decimal("80"), stop_loss_price=Decimal("78.4")
    )
    market.add_position("TEST", 5, "80")
    service.reconcile_soon()
    streams.wait_for_subscription("trades", "TEST")
    wait_consuming(streams, service, "TEST", price=80)
    assert not market.orders

    pushed = time.monotonic()
    streams.push(trade("TEST", datetime.now(UTC), "78.3", 100))
    took = wait_for(lambda: market.orders, timeout=1.0, what="the stop's sell at Alpaca")
    [order] = market.orders
    assert (order["side"], order["qty"], order["symbol"]) == ("sell", "5", "TEST")
    assert order["client_order_id"] == f"tb-{bot.pk}-TEST-sell-stop-{position.pk}"
    assert time.monotonic() - pushed < 1.0 and took < 1.0
    # The same trade seen again sends nothing more.
    streams.push(trade("TEST", datetime.now(UTC), "78.2", 100))
    time.sleep(0.3)
    assert len(market.orders) == 1


def test_a_price_goes_to_every_user_trading_or_holding_the_symbol_and_no_one_else(alpaca_account, streams, service):
    trading = services.bot_start(
        bot=BotFactory(config=dict(CONFIG, symbols=["AAPL"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    # Another person's account on the same keys (one feed, one connection), their stopped bot holding AAPL.
    account = BrokerAccountFactory(kind="alpaca", base_url=alpaca_account.base_url, data_url=alpaca_account.data_url)
    account.set_credentials(streams.api_key, streams.secret_key)
    account.save()
    holder = PositionFactory(bot=BotFactory(owner=account.owner, broker_account=account), symbol="AAPL")
    other = services.bot_start(bot=BotFactory(config=dict(CONFIG, symbols=["MSFT"])))
    inboxes = {user: drain(user_group(user)) for user in (trading.owner_id, holder.owner_id, other.owner_id)}
    service.reconcile_soon()
    streams.wait_for_subscription("trades", "AAPL")
    wait_consuming(streams, service, "AAPL")
    time.sleep(0.4)
    for inbox in inboxes.values():
        inbox()

    streams.push(trade("AAPL", datetime.now(UTC), "187.25", 1))
    time.sleep(0.4)
    # (The other person's MSFT, on the simulated market, trades on its own clock meanwhile.)
    prices = {
        user: [e["data"]["price"] for e in inbox() if e["event"] == "price_update" and e["data"]["symbol"] == "AAPL"]
        for user, inbox in inboxes.items()
    }
    assert prices == {trading.owner_id: ["187.25"], holder.owner_id: ["187.25"], other.owner_id: []}


def test_a_stop_set_on_a_held_position_is_watched_from_the_next_second(market, alpaca_account, streams, service):
    bot = BotFactory(config=dict(CONFIG, symbols=["TEST"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    position = PositionFactory(bot=bot, symbol="TEST", quantity=5, entry_price=Decimal("80"))
    market.add_position("TEST", 5, "80")
    service.reconcile_soon()
    streams.wait_for_subscription("trades", "TEST")
    wait_consuming(streams, service, "TEST", price=70)  # no stop yet: nothing to sell on
    time.sleep(0.3)
    assert not market.orders

    Position.objects.filter(pk=position.pk).update(stop_loss_price=Decimal("78.4"))
    time.sleep(1.2)  # the exit watcher reads the positions again every second, trades or not
    streams.push(trade("TEST", datetime.now(UTC), "78.3", 100))
    wait_for(lambda: market.orders, timeout=1.0, what="the stop's sell at Alpaca")
    assert [order["side"] for order in market.orders] == ["sell"]


def test_the_stream_starting_reconciles_the_books_with_alpacas(market, alpaca_account, streams):
    services.bot_start(
        bot=BotFactory(config=dict(CONFIG, symbols=["TEST"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    market.add_position("TEST", 7, "80")  # bought by hand at Alpaca: the books hold none

    with StreamService(reconcile_seconds=0.2):
        wait_for(lambda: BookMismatch.objects.filter(account=alpaca_account, symbol="TEST").exists(), what="a mismatch")
    mismatch = BookMismatch.objects.get(account=alpaca_account, symbol="TEST")
    assert (mismatch.ours, mismatch.theirs) == (0, 7)
