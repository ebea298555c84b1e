"""The stream stand-in against the real alpaca-py stream clients (StockDataStream, TradingStream),
run as tests/alpaca_stream_stub.py recommends for the stream service."""

import asyncio
import itertools
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import msgpack
import pytest
from alpaca.data.live import StockDataStream
from alpaca.data.models import Bar, Trade
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce, TradeEvent
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import MarketOrderRequest
from alpaca.trading.stream import TradingStream
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.alpaca_stream_stub import TRADING, AlpacaStreamStub, bar, order_update, running, trade

AT = datetime(2024, 1, 2, 15, 0, 0, 123456, tzinfo=UTC)


class Inbox:
    """What an alpaca-py handler received, and a way to wait for it without sleeping."""

    def __init__(self):
        self.items = []
        self._changed = threading.Condition()

    async def handle(self, item) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.items) >= count, timeout), f"got only {self.items}"
            return list(self.items)


def fast_backoff(stream):
    """alpaca-py waits 0.5-1 s before its first reconnect, doubling to 15-30 s; tests need not."""
    stream._reconnect_min_backoff, stream._reconnect_max_backoff = 0.05, 0.2
    return stream


def wait_until_consuming(stub: AlpacaStreamStub, inbox: Inbox, symbol: str) -> None:
    """Waits until alpaca-py reads data. It counts itself connected (and sends `subscribe_*` and
    `unsubscribe_*` calls made from other threads) only a moment after its subscribe went out: a change
    made in that window only updates its handler table, and goes out with the next reconnect."""
    seen = len(inbox.items)
    stub.push(trade(symbol, AT, 1, 1))
    inbox.wait_for(seen + 1)


def data_stream(stub: AlpacaStreamStub, secret: str = "secret") -> StockDataStream:
    return fast_backoff(StockDataStream("key", secret, url_override=stub.data_url()))


def trading_stream(stub: AlpacaStreamStub) -> TradingStream:
    return fast_backoff(TradingStream("key", "secret", url_override=stub.trading_url))


def accepted_order(alpaca_stub, qty: int, client_order_id: str | None = None) -> tuple[TradingClient, dict]:
    """An AAPL market buy placed through alpaca-py and held unfilled by the REST stub, as Alpaca holds
    an order before its fills arrive on trade_updates: the client, and the stub's wire order."""
    alpaca_stub.set_price("AAPL", "150")
    alpaca_stub.accept_without_fill = True
    client = TradingClient("key", "secret", url_override=alpaca_stub.url)
    client.submit_order(
        MarketOrderRequest(
            symbol="AAPL", qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=client_order_id
        )
    )
    [order] = alpaca_stub.orders
    return client, order


# --- market data -------------------------------------------------------------------------------


def test_trades_and_bars_reach_the_handlers_as_alpaca_models(alpaca_stream_stub):
    trades, bars = Inbox(), Inbox()
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(trades.handle, "AAPL", "MSFT")
    stream.subscribe_bars(bars.handle, "AAPL")

    with running(stream):
        connection = alpaca_stream_stub.wait_for_subscription("trades", "AAPL", "MSFT")
        sent = alpaca_stream_stub.push(
            trade("AAPL", AT, Decimal("185.64"), 100),
            bar("AAPL", AT, "185.6", "185.7", "185.5", "185.64", 12000, trade_count=150, vwap="185.61"),
            trade("MSFT", AT, 370.87, 5),
        )
        [apple, microsoft], [minute] = trades.wait_for(2), bars.wait_for(1)

    assert sent == 3
    assert connection.path == "/v2/iex"
    assert connection.headers["content-type"] == "application/msgpack"
    assert connection.received == [
        {"action": "auth", "key": "key", "secret": "secret"},
        {"trades": ["AAPL", "MSFT"], "bars": ["AAPL"], "action": "subscribe"},
    ]
    assert connection.subscriptions["bars"] == {"AAPL"}
    assert isinstance(apple, Trade)
    assert (apple.symbol, apple.price, apple.size, apple.exchange, apple.conditions, apple.tape) == (
        "AAPL",
        185.64,
        100.0,
        "V",
        ["@"],
        "C",
    )
    assert apple.timestamp == AT and apple.timestamp.utcoffset().total_seconds() == 0
    assert (microsoft.symbol, microsoft.price) == ("MSFT", 370.87)
    assert isinstance(minute, Bar)
    assert (minute.symbol, minute.open, minute.high, minute.low, minute.close, minute.volume) == (
        "AAPL",
        185.6,
        185.7,
        185.5,
        185.64,
        12000.0,
    )
    assert (minute.trade_count, minute.vwap, minute.timestamp) == (150.0, 185.61, AT)


def test_messages_go_to_subscribers_only_batched_or_one_per_frame(alpaca_stream_stub):
    trades, bars, daily_bars = Inbox(), Inbox(), Inbox()
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(trades.handle, "AAPL")
    stream.subscribe_bars(bars.handle, "*")
    stream.subscribe_daily_bars(daily_bars.handle, "AAPL")
    quote = {"T": "q", "S": "AAPL", "t": AT, "bp": 1.0, "bs": 1, "ap": 1.1, "as": 1}

    with running(stream):
        alpaca_stream_stub.wait_for_subscription("dailyBars", "AAPL")
        single = alpaca_stream_stub.push(*(trade("AAPL", AT, price, 1) for price in (1, 2)), batch=False)
        batched = alpaca_stream_stub.push(
            trade("TSLA", AT, 9, 1),
            trade("AAPL", AT, 3, 1),
            quote,
            bar("TSLA", AT, 1, 1, 1, 1, 1),
            bar("AAPL", AT, 5, 6, 4, 5, 900, kind="d"),
        )
        [day], [minute], received = daily_bars.wait_for(1), bars.wait_for(1), trades.wait_for(3)

    assert (single, batched) == (2, 3)  # neither the TSLA trade nor the unsubscribed quote went out
    assert [t.price for t in received] == [1.0, 2.0, 3.0]
    assert (minute.symbol, day.symbol, day.volume) == ("TSLA", "AAPL", 900.0)  # "*" took TSLA's minute bar


def test_unsubscribing_stops_a_symbol(alpaca_stream_stub):
    trades = Inbox()
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(trades.handle, "AAPL", "MSFT")

    with running(stream):
        alpaca_stream_stub.wait_for_subscription("trades", "AAPL", "MSFT")
        wait_until_consuming(alpaca_stream_stub, trades, "AAPL")
        stream.unsubscribe_trades("MSFT")
        connection = alpaca_stream_stub.wait_for_subscription("trades", "AAPL")
        sent = alpaca_stream_stub.push(trade("MSFT", AT, 370, 1), trade("AAPL", AT, 185, 1))
        received = trades.wait_for(2)

    assert sent == 1
    assert [(t.symbol, t.price) for t in received] == [("AAPL", 1.0), ("AAPL", 185.0)]
    assert connection.received[-1] == {"action": "unsubscribe", "trades": ["MSFT"]}


@pytest.mark.parametrize("abrupt", [False, True], ids=["close", "tcp-reset"])
def test_a_dropped_connection_is_reopened_and_resubscribed_by_alpaca_py(alpaca_stream_stub, abrupt):
    trades, quotes = Inbox(), Inbox()
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(trades.handle, "AAPL")

    with running(stream):
        alpaca_stream_stub.wait_for_subscription("trades", "AAPL")
        wait_until_consuming(alpaca_stream_stub, trades, "AAPL")
        stream.subscribe_quotes(quotes.handle, "MSFT")  # added while running: must survive the reconnect
        alpaca_stream_stub.wait_for_subscription("quotes", "MSFT")
        dropped = alpaca_stream_stub.drop(abrupt=abrupt)
        reopened = alpaca_stream_stub.wait_for_subscription("quotes", "MSFT")
        alpaca_stream_stub.push(trade("AAPL", AT, 185, 1))
        trades.wait_for(2)

    first = alpaca_stream_stub.connections[0]
    assert dropped == 1
    assert reopened.number == 2
    assert reopened.received == [
        {"action": "auth", "key": "key", "secret": "secret"},
        {"trades": ["AAPL"], "quotes": ["MSFT"], "action": "subscribe"},
    ]
    assert reopened.received[-1] == first.received[-1]  # the whole table again, not only the change


def test_drop_after_n_messages_loses_the_rest_of_the_push(alpaca_stream_stub):
    trades = Inbox()
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(trades.handle, "AAPL")

    with running(stream):
        alpaca_stream_stub.wait_for_subscription("trades", "AAPL")
        alpaca_stream_stub.drop_after(2)
        sent = alpaca_stream_stub.push(*(trade("AAPL", AT, price, 1) for price in range(1, 6)))
        alpaca_stream_stub.wait_until(lambda: len(alpaca_stream_stub.connections) == 2)
        alpaca_stream_stub.wait_for_subscription("trades", "AAPL")
        alpaca_stream_stub.push(trade("AAPL", AT, 6, 1))
        received = trades.wait_for(3)

    assert sent == 2
    assert [t.price for t in received] == [1.0, 2.0, 6.0]  # nothing replays 3-5: the service back-fills
    assert [c.sent for c in alpaca_stream_stub.connections] == [2, 1]


def test_refused_auth_is_retried_with_back_off_until_allowed(alpaca_stream_stub):
    alpaca_stream_stub.refuse_auth(code=406, times=2)
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(Inbox().handle, "AAPL")

    with running(stream):
        connection = alpaca_stream_stub.wait_for_subscription("trades", "AAPL")

    assert connection.number == 3
    assert [(c.auth_error, c.authenticated) for c in alpaca_stream_stub.connections] == [
        (406, False),
        (406, False),
        (None, True),
    ]


def test_refusals_without_a_count_last_until_lifted(alpaca_stream_stub):
    alpaca_stream_stub.refuse_connections(status=503)
    alpaca_stream_stub.refuse_auth(code=402)
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(Inbox().handle, "AAPL")

    with running(stream):
        alpaca_stream_stub.wait_until(lambda: sum(c.refused == 503 for c in alpaca_stream_stub.connections) >= 2)
        alpaca_stream_stub.accept_connections()
        alpaca_stream_stub.wait_until(lambda: sum(c.auth_error == 402 for c in alpaca_stream_stub.connections) >= 2)
        alpaca_stream_stub.allow_auth()
        connection = alpaca_stream_stub.wait_for_subscription("trades", "AAPL")

    assert connection.number == len(alpaca_stream_stub.connections) >= 5


def test_wrong_keys_get_402_on_every_attempt(alpaca_stream_stub):
    stream = data_stream(alpaca_stream_stub, secret="wrong")
    stream.subscribe_trades(Inbox().handle, "AAPL")

    with running(stream):
        alpaca_stream_stub.wait_until(lambda: sum(c.auth_error == 402 for c in alpaca_stream_stub.connections) >= 3)

    assert {(c.key, c.auth_error) for c in alpaca_stream_stub.connections} == {("key", 402)}
    assert not any(c.subscriptions["trades"] for c in alpaca_stream_stub.connections)


def test_insufficient_subscription_ends_alpaca_pys_run(alpaca_stream_stub):
    alpaca_stream_stub.refuse_auth(code=409)
    stream = fast_backoff(StockDataStream("key", "secret", url_override=alpaca_stream_stub.data_url("sip")))
    stream.subscribe_trades(Inbox().handle, "AAPL")

    with running(stream) as thread:
        thread.join(timeout=5)
        ended = not thread.is_alive()

    assert ended
    assert [(c.path, c.auth_error) for c in alpaca_stream_stub.connections] == [("/v2/sip", 409)]


def test_a_second_data_connection_waits_for_the_first_to_end(alpaca_stream_stub):
    first, second = data_stream(alpaca_stream_stub), data_stream(alpaca_stream_stub)
    first.subscribe_trades(Inbox().handle, "AAPL")
    second.subscribe_trades(Inbox().handle, "MSFT")

    with ExitStack() as cleanup:
        first_running = cleanup.enter_context(ExitStack())
        first_running.enter_context(running(first))
        alpaca_stream_stub.wait_for_subscription("trades", "AAPL")
        cleanup.enter_context(running(second))
        alpaca_stream_stub.wait_until(lambda: sum(c.auth_error == 406 for c in alpaca_stream_stub.connections) >= 2)
        first_running.close()
        alpaca_stream_stub.wait_for_subscription("trades", "MSFT")

    assert alpaca_stream_stub.connections[0].closed_at is not None


def test_refused_connections_are_retried_with_growing_back_off(alpaca_stream_stub):
    alpaca_stream_stub.refuse_connections(times=3)
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(Inbox().handle, "AAPL")

    with running(stream):
        alpaca_stream_stub.wait_for_subscription("trades", "AAPL")

    attempts = alpaca_stream_stub.connections
    assert [c.refused for c in attempts] == [429, 429, 429, None]
    gaps = [later.opened_at - earlier.opened_at for earlier, later in itertools.pairwise(attempts)]
    # Equal jitter: the n-th wait is at least half of min_backoff * 2**(n-1), capped at max_backoff.
    assert [gap >= least for gap, least in zip(gaps[:3], (0.025, 0.05, 0.1), strict=True)] == [True, True, True]


def test_a_delayed_handshake_holds_the_client_and_a_stop_still_ends_it(alpaca_stream_stub):
    alpaca_stream_stub.delay_handshake(0.2)
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(Inbox().handle, "AAPL")
    with running(stream):
        connection = alpaca_stream_stub.wait_for_subscription("trades", "AAPL")
    assert time.monotonic() - connection.opened_at >= 0.4  # the welcome and the auth reply, 0.2 s each

    alpaca_stream_stub.delay_handshake(60)
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(Inbox().handle, "AAPL")
    with running(stream) as thread:
        alpaca_stream_stub.wait_until(lambda: alpaca_stream_stub.connections[-1].number == 2)
        started = time.monotonic()

    assert not thread.is_alive()
    assert time.monotonic() - started < 1  # closing the socket ended the wait, long before stop_timeout
    alpaca_stream_stub.wait_until(lambda: not alpaca_stream_stub.connections[-1].open)


def test_a_stream_stopped_as_soon_as_it_started_stops_at_once(alpaca_stream_stub):
    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(Inbox().handle, "AAPL")
    started = time.monotonic()

    with running(stream) as thread:
        pass

    assert not thread.is_alive()
    assert time.monotonic() - started < 1  # not the 5 s stop_timeout: the stop was not lost
    alpaca_stream_stub.wait_until(lambda: not any(c.open for c in alpaca_stream_stub.connections))


def test_a_handler_that_never_returns_is_cancelled_on_stop(alpaca_stream_stub):
    entered = threading.Event()

    async def hang(_trade):
        entered.set()
        await asyncio.Event().wait()

    stream = data_stream(alpaca_stream_stub)
    stream.subscribe_trades(hang, "AAPL")
    with running(stream, stop_timeout=0.5) as thread:
        alpaca_stream_stub.wait_for_subscription("trades", "AAPL")
        alpaca_stream_stub.push(trade("AAPL", AT, 1, 1))
        assert entered.wait(5)
        started = time.monotonic()

    assert not thread.is_alive()
    assert 0.5 <= time.monotonic() - started < 2
    alpaca_stream_stub.wait_until(lambda: not alpaca_stream_stub.connections[-1].open)


def test_what_alpaca_py_would_not_send_is_reported_as_a_stand_in_error():
    with AlpacaStreamStub() as stub:
        with pytest.raises(InvalidStatus) as refused:
            connect(stub.data_url(), open_timeout=5).close()
        with connect(stub.data_url(), additional_headers={"Content-Type": "application/msgpack"}) as client:
            client.recv(timeout=5)  # the welcome
            client.send(msgpack.packb({"action": "subscribe", "trades": ["AAPL"]}))  # before any auth
            stub.wait_until(lambda: not stub.connections[-1].open)

    assert refused.value.response.status_code == 415
    assert [str(error).split(":")[0] for error in stub.errors] == [
        "a data client that did not ask for msgpack",
        "unexpected market data message",
    ]


def test_stopping_the_stand_in_leaves_no_thread_or_socket_behind():
    threads_before = set(threading.enumerate())
    stub = AlpacaStreamStub().start()
    stream = data_stream(stub)
    stream.subscribe_trades(Inbox().handle, "AAPL")
    with running(stream):
        stub.wait_for_subscription("trades", "AAPL")
        url = stub.data_url()
        stub.stop()
        with pytest.raises(OSError):
            connect(url, open_timeout=1)

    assert not stub.running
    assert set(threading.enumerate()) == threads_before
    assert not stub.errors


# --- trade_updates -----------------------------------------------------------------------------


@pytest.mark.parametrize("as_text", [False, True], ids=["binary-frames", "text-frames"])
def test_fills_of_an_order_the_rest_stub_holds_reach_the_handler(alpaca_stub, alpaca_stream_stub, as_text):
    alpaca_stream_stub.trade_updates_as_text = as_text
    client, order = accepted_order(alpaca_stub, 10, "coid-1")
    updates = Inbox()
    stream = trading_stream(alpaca_stream_stub)
    stream.subscribe_trade_updates(updates.handle)

    with running(stream):
        alpaca_stream_stub.wait_for_listener()
        for event, qty, price, position in (("partial_fill", 4, "150.3", 4), ("fill", None, "150.25", 10)):
            update = order_update(order, event, qty=qty, price=price, position_qty=position, at=AT)
            alpaca_stream_stub.push_trade_update(update)
            alpaca_stub.update_order("coid-1", **update["order"])
            order = update["order"]
        partial, fill = updates.wait_for(2)

    assert isinstance(partial, TradeUpdate)
    assert (partial.event, partial.order.status, partial.order.filled_qty, partial.order.filled_avg_price) == (
        TradeEvent.PARTIAL_FILL,
        OrderStatus.PARTIALLY_FILLED,
        "4",
        "150.3",
    )
    assert (partial.price, partial.qty, partial.position_qty) == (150.3, 4.0, 4.0)
    assert isinstance(partial.execution_id, UUID)
    assert partial.timestamp == AT
    assert (fill.event, fill.order.status, fill.order.filled_qty, fill.order.filled_avg_price) == (
        TradeEvent.FILL,
        OrderStatus.FILLED,
        "10",
        "150.27",
    )
    assert (fill.qty, fill.order.client_order_id, fill.order.filled_at) == (6.0, "coid-1", AT)
    rest = client.get_order_by_client_id("coid-1")  # the REST stub was kept in step
    assert (rest.status, rest.filled_qty, rest.filled_avg_price) == (OrderStatus.FILLED, "10", "150.27")


def test_other_order_events_arrive_in_order(alpaca_stub, alpaca_stream_stub):
    _, order = accepted_order(alpaca_stub, 1)
    events = ["new", "canceled", "rejected", "expired", "order_cancel_rejected"]
    updates = Inbox()
    stream = trading_stream(alpaca_stream_stub)
    stream.subscribe_trade_updates(updates.handle)

    with running(stream):
        alpaca_stream_stub.wait_for_listener()
        for event in events:
            alpaca_stream_stub.push_trade_update(order_update(order, event))
        received = updates.wait_for(len(events))

    assert [(u.event, u.order.status) for u in received] == [
        (TradeEvent.NEW, OrderStatus.NEW),
        (TradeEvent.CANCELED, OrderStatus.CANCELED),
        (TradeEvent.REJECTED, OrderStatus.REJECTED),
        (TradeEvent.EXPIRED, OrderStatus.EXPIRED),
        ("order_cancel_rejected", OrderStatus.ACCEPTED),  # an event alpaca-py has no enum for stays a string
    ]
    assert received[1].order.canceled_at is not None and received[2].order.failed_at is not None


def test_the_trading_handshake_and_refused_auth(alpaca_stream_stub):
    alpaca_stream_stub.refuse_auth(TRADING, times=1)
    stream = trading_stream(alpaca_stream_stub)
    stream.subscribe_trade_updates(Inbox().handle)

    with running(stream):
        listener = alpaca_stream_stub.wait_for_listener()

    refused = alpaca_stream_stub.connections[0]
    authenticate = {"action": "authenticate", "data": {"key_id": "key", "secret_key": "secret"}}
    assert (refused.kind, refused.auth_error, refused.received) == (TRADING, 401, [authenticate])
    assert listener.number == 2
    assert listener.received == [authenticate, {"action": "listen", "data": {"streams": ["trade_updates"]}}]


@pytest.mark.parametrize("abrupt", [False, True], ids=["close", "tcp-reset"])
def test_a_dropped_trading_connection_listens_again(alpaca_stub, alpaca_stream_stub, abrupt):
    _, order = accepted_order(alpaca_stub, 1)
    updates = Inbox()
    stream = trading_stream(alpaca_stream_stub)
    stream.subscribe_trade_updates(updates.handle)

    with running(stream):
        alpaca_stream_stub.wait_for_listener()
        alpaca_stream_stub.drop(TRADING, abrupt=abrupt)
        listener = alpaca_stream_stub.wait_for_listener()
        delivered = alpaca_stream_stub.push_trade_update(order_update(order, "fill", price="150", qty=1))
        [update] = updates.wait_for(1)

    assert (listener.number, delivered) == (2, 1)
    assert update.order.id == UUID(order["id"])


def test_trade_updates_are_json_in_binary_frames_unless_asked_for_text(alpaca_stream_stub):
    def first_update(stub):
        with connect(stub.trading_url, open_timeout=5) as client:
            client.send('{"action": "authenticate", "data": {"key_id": "key", "secret_key": "secret"}}')
            client.recv(timeout=5)
            client.send('{"action": "listen", "data": {"streams": ["trade_updates"]}}')
            client.recv(timeout=5)
            stub.push_trade_update({"event": "new"})
            return client.recv(timeout=5)

    assert first_update(alpaca_stream_stub) == b'{"stream": "trade_updates", "data": {"event": "new"}}'
    alpaca_stream_stub.trade_updates_as_text = True
    assert first_update(alpaca_stream_stub) == '{"stream": "trade_updates", "data": {"event": "new"}}'


def test_order_update_moves_the_order_along_as_alpaca_does():
    order = {
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": "c",
        "qty": "10",
        "filled_qty": "0",
        "filled_avg_price": None,
        "status": "accepted",
        "updated_at": "2024-01-02T14:00:00Z",
    }

    partial = order_update(order, "partial_fill", qty=4, price="150.3", at=AT)
    fill = order_update(partial["order"], "fill", price="150.25", position_qty=10, at=AT)

    assert {k: partial[k] for k in ("event", "qty", "price", "timestamp")} == {
        "event": "partial_fill",
        "qty": "4",
        "price": "150.3",
        "timestamp": "2024-01-02T15:00:00.123456Z",
    }
    assert "position_qty" not in partial
    assert {k: fill["order"][k] for k in ("status", "filled_qty", "filled_avg_price", "filled_at", "updated_at")} == {
        "status": "filled",
        "filled_qty": "10",
        "filled_avg_price": "150.27",
        "filled_at": "2024-01-02T15:00:00.123456Z",
        "updated_at": "2024-01-02T15:00:00.123456Z",
    }
    assert (fill["qty"], fill["position_qty"]) == ("6", "10")
    assert order["status"] == "accepted"  # the caller's order is left as it was
    with pytest.raises(ValueError, match="price"):
        order_update(order, "fill")


def test_the_controls_refuse_what_alpaca_would_not_send(alpaca_stream_stub):
    with pytest.raises(ValueError, match="not a market data message"):
        alpaca_stream_stub.push({"T": "success", "msg": "connected"})
    with pytest.raises(ValueError, match="401 is not one of"):
        alpaca_stream_stub.refuse_auth(code=401)
