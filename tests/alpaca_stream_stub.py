"""A local stand-in for Alpaca's two WebSocket streams, wire-compatible with alpaca-py 0.44's
`StockDataStream` (market data) and `TradingStream` (trade_updates), so the real clients run against it
through `url_override` (see /work/shared/reference/alpaca-wire.md, sections 5 and 8). Its REST twin is
tests/alpaca_stub.py.

One server speaks both protocols and tells them apart by the path, as Alpaca's two hosts do:

- `stub.trading_url` (`ws://127.0.0.1:PORT/stream`): trade_updates, JSON both ways. The stand-in sends
  it in binary frames, as Alpaca's paper endpoint does (`trade_updates_as_text` sends text frames).
- any other path, e.g. `stub.data_url("sip")` (`.../v2/sip`): the market data stream, msgpack both
  ways, each server frame one array of maps. alpaca-py always asks for msgpack
  (`Content-Type: application/msgpack`) and cannot read Alpaca's JSON variant, so the stand-in speaks
  msgpack only: a data client that does not ask for it is refused and recorded in `errors`.

Tests push data to what each connection subscribed (`push` with `trade(...)`, `bar(...)` or any message
dict; `push_trade_update` with `order_update(...)`), inject faults (`drop`, `drop_after`, `refuse_auth`,
`refuse_connections`, `delay_handshake`, `data_connection_limit`), wait for the client instead of sleeping
(`wait_for_subscription`, `wait_for_listener`, `wait_until`), and assert on `connections`: every
connection attempt and what arrived on it.

Running alpaca-py's stream clients in a service (`running` below does exactly this; measured with
alpaca-py 0.44.0 against this stand-in):

- Register the handlers (`subscribe_*`, all `async def`) first, then run `stream._run_forever()` as a
  task on an event loop of its own, in a thread of its own. `run()` in a thread works too, but then only
  `stop()` ends it, and `run()` returns at the client's next 5 s receive poll (4.7 s measured);
  `run()` inside a running loop fails with a misleading `AttributeError`. Until a data handler exists,
  StockDataStream's `_run_forever` spins its loop (`asyncio.sleep(0)`) at full CPU.
- Let the task take its first step (any `await`) before anything may stop it: a `stop_ws()` issued
  earlier is lost, because `_run_forever` resets its stop flag and drains its stop queue as it starts,
  and the stream then runs on.
- To stop, on that loop: `await stream.stop_ws()`, then `await stream.close()`. Closing the socket wakes
  whatever the client awaits on it, the 5 s receive poll or a welcome or auth reply it would otherwise
  wait for without any timeout (`stop()` alone never ends that wait), so the task ends within
  milliseconds. Close again every few milliseconds while it runs on: a socket still opening at the first
  close was not closed by it. Bound the wait, then cancel the task (a handler that never returns, an
  HTTP upgrade hanging until its 10 s open timeout) and close once more.
- Call `subscribe_*` / `unsubscribe_*` from another thread only: they block on
  `run_coroutine_threadsafe(...).result()` on the stream's loop, so called on that loop (from a handler
  or a coroutine sharing it) they deadlock it for good. While the client does not count itself
  connected they only change its handler table, which goes out with the next (re)subscribe; that
  includes a short window after each (re)subscribe went out, so a symbol added just as the client
  (re)connects gets no data until the next reconnect: re-send the set (any `subscribe_*` call sends the
  whole table) once data flows, or reconcile periodically.
- Handlers are awaited one at a time on the loop that reads the socket: hand slow work to a queue.
- The client reconnects by itself after a drop, a refused upgrade or an auth error, re-authenticates and
  re-subscribes its whole handler table, after an equal-jitter back-off from `_reconnect_min_backoff`
  (1 s): 0.5-1 s, then 1-2, 2-4, 4-8 s ... capped at 15-30 s (`_reconnect_max_backoff`, 30 s). Only a
  connection that delivered data (a trade, bar ...; not an ack) restarts the back-off, so a drop after a
  healthy session costs 0.5-1 s and repeated drops before any data escalate it (measured: 0.95, 1.1,
  3.4, 7.0 s). It never gives up, except on a 409 "insufficient subscription" auth reply, after which
  `_run_forever` returns normally: watch the task. Nothing missed meanwhile is replayed: back-fill over
  REST. In tests set `_reconnect_min_backoff` and `_reconnect_max_backoff` low after construction.
"""

import asyncio
import copy
import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Self
from urllib.parse import urlsplit

import msgpack
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

from tests.alpaca_stub import wire_number, wire_time

DATA, TRADING = "data", "trading"
TRADING_PATH = "/stream"
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
# The channel whose subscribers get each message type. Trade corrections (c) and cancels (x) have no
# channel key of their own: Alpaca sends them to whoever subscribed the symbol's trades.
CHANNEL_OF_TYPE = {
    "t": "trades",
    "c": "trades",
    "x": "trades",
    "q": "quotes",
    "b": "bars",
    "u": "updatedBars",
    "d": "dailyBars",
    "s": "statuses",
    "l": "lulds",
}
# Alpaca's market data error frames that can answer an auth. alpaca-py reconnects with back-off after
# all but 409, which ends its run.
AUTH_ERRORS = {402: "auth failed", 406: "connection limit exceeded", 409: "insufficient subscription"}
# Where Alpaca moves an order's status with each trade_updates event, and which of its timestamps it sets.
STATUS_OF_EVENT = {
    "new": "new",
    "accepted": "accepted",
    "pending_new": "pending_new",
    "fill": "filled",
    "partial_fill": "partially_filled",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
    "replaced": "replaced",
    "pending_cancel": "pending_cancel",
    "pending_replace": "pending_replace",
    "done_for_day": "done_for_day",
}
TIMESTAMP_OF_EVENT = {
    "fill": "filled_at",
    "canceled": "canceled_at",
    "expired": "expired_at",
    "rejected": "failed_at",
    "replaced": "replaced_at",
}

_trade_ids = itertools.count(1)


def trade(
    symbol: str, at: datetime, price, size: int, *, exchange: str = "V", conditions=("@",), tape: str = "C"
) -> dict:
    """A trade (`T: "t"`) as Alpaca sends it: price a float, size an int, `t` the aware time of the trade
    (sent as a msgpack Timestamp, the only form alpaca-py parses)."""
    return {
        "T": "t",
        "S": symbol,
        "i": next(_trade_ids),
        "x": exchange,
        "p": float(price),
        "s": int(size),
        "c": list(conditions),
        "t": at,
        "z": tape,
    }


def bar(
    symbol: str,
    at: datetime,
    open,
    high,
    low,
    close,
    volume: int,
    *,
    trade_count: int | None = None,
    vwap=None,
    kind: str = "b",
) -> dict:
    """A minute bar (`kind` "b"; "u" an updated bar, "d" a daily bar) opening at `at`. `n` and `vw` are
    always sent, nil when unknown: without them alpaca-py drops the rest of the frame."""
    return {
        "T": kind,
        "S": symbol,
        "o": float(open),
        "h": float(high),
        "l": float(low),
        "c": float(close),
        "v": int(volume),
        "t": at,
        "n": trade_count,
        "vw": None if vwap is None else float(vwap),
    }


def order_update(
    order: dict, event: str, *, qty=None, price=None, position_qty=None, at: datetime | None = None
) -> dict:
    """The `data` of a trade_updates message: `event` happening to `order`, a wire order such as
    `AlpacaStub.orders` holds, moved along as Alpaca moves it: its status, `updated_at` and the event's
    own timestamp, and for a fill or partial_fill its cumulative `filled_qty` and volume-weighted
    `filled_avg_price` (a fill without `qty` fills what is left). Write the new order back to keep the
    REST stand-in in step: `alpaca_stub.update_order(cid, **update["order"])`."""
    at = at or datetime.now(UTC)
    moved = dict(order, updated_at=wire_time(at))
    if event in STATUS_OF_EVENT:
        moved["status"] = STATUS_OF_EVENT[event]
    if event in TIMESTAMP_OF_EVENT:
        moved[TIMESTAMP_OF_EVENT[event]] = wire_time(at)
    update = {"event": event, "timestamp": wire_time(at), "order": moved}
    if event in ("fill", "partial_fill"):
        if price is None:
            raise ValueError(f"a {event} needs the price it executed at")
        filled, average = Decimal(order.get("filled_qty") or "0"), Decimal(order.get("filled_avg_price") or "0")
        qty = Decimal(order["qty"]) - filled if qty is None else Decimal(str(qty))
        price = Decimal(str(price))
        moved["filled_qty"] = wire_number(filled + qty)
        moved["filled_avg_price"] = wire_number((filled * average + qty * price) / (filled + qty))
        update.update(execution_id=str(uuid.uuid4()), qty=wire_number(qty), price=wire_number(price))
    if position_qty is not None:
        update["position_qty"] = wire_number(Decimal(str(position_qty)))
    return update


@dataclass
class StreamConnection:
    """One connection attempt and what happened on it, as the stand-in saw it."""

    number: int  # 1, 2, ... in order of arrival, both protocols counted together
    kind: str  # DATA or TRADING
    path: str  # with its query, e.g. "/v2/iex"
    headers: dict[str, str]  # names lower-cased
    opened_at: float  # time.monotonic()
    refused: int | None = None  # the HTTP status the upgrade was refused with (refuse_connections)
    received: list[dict] = field(default_factory=list)  # the client's messages, decoded, in order
    key: str | None = None  # the API key of the last auth message
    auth_error: int | None = None  # what the last auth was refused with: an AUTH_ERRORS code (TRADING: 401)
    authenticated: bool = False
    subscriptions: dict[str, set[str]] = field(default_factory=lambda: {channel: set() for channel in CHANNELS})
    streams: set[str] = field(default_factory=set)  # TRADING: the streams it listens to now
    sent: int = 0  # data messages or trade updates delivered to it
    closed_at: float | None = None

    @property
    def open(self) -> bool:
        return self.refused is None and self.closed_at is None


@dataclass
class _Refusal:
    code: int  # the HTTP status or the auth error
    times: int | None  # how many more to refuse; None: until lifted


@dataclass
class _Drop:
    after: int  # messages still to send before dropping
    abrupt: bool
    code: int


class AlpacaStreamStub:
    def __init__(self, api_key: str = "key", secret_key: str = "secret"):
        self.api_key, self.secret_key = api_key, secret_key
        # Alpaca allows an account one market data connection; the auth of another one gets 406.
        self.data_connection_limit: int | None = 1
        self.trade_updates_as_text = False
        # Exceptions raised inside the stand-in itself; the fixture fails the test if any occurred.
        self.errors: list[BaseException] = []
        self._changed = threading.Condition(threading.RLock())  # guards the state below, signals changes
        self._connections: list[StreamConnection] = []
        self._open: dict[ServerConnection, StreamConnection] = {}
        self._refused_connections: dict[str, _Refusal] = {}
        self._refused_auth: dict[str, _Refusal] = {}
        self._drops: dict[str, _Drop] = {}
        self._handshake_delays: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="alpaca-stream-stub", daemon=True)
        self._thread.start()
        self._server = self._call(self._listen())
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def trading_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}{TRADING_PATH}"

    def data_url(self, feed: str = "iex") -> str:
        """Where alpaca-py's StockDataStream(feed=...) would connect: any path but /stream is the data stream."""
        return f"ws://127.0.0.1:{self._port}/v2/{feed}"

    @property
    def _port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    async def _listen(self) -> Server:
        # No server pings (the client pings); a client that does not answer a close is cut after 1 s.
        return await serve(
            self._handle, "127.0.0.1", 0, process_request=self._admit, ping_interval=None, close_timeout=1
        )

    async def _shutdown(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _call(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    # --- test controls -------------------------------------------------------------------------

    @property
    def connections(self) -> list[StreamConnection]:
        """A snapshot of every connection attempt so far, refused ones included."""
        with self._changed:
            return copy.deepcopy(self._connections)

    def push(self, *messages: dict, batch: bool = True) -> int:
        """Sends market data messages (`trade(...)`, `bar(...)`, or any dict with Alpaca's `T` and `S`)
        to every authenticated data connection subscribed to their symbol (or "*") on their channel:
        in one frame per connection, as Alpaca batches, or with `batch=False` one frame per message.
        Returns how many messages went out, over all connections."""
        for message in messages:
            if message.get("T") not in CHANNEL_OF_TYPE or "S" not in message:
                raise ValueError(f"not a market data message: {message!r}")

        def subscribed(connection: StreamConnection) -> list[dict]:
            return [m for m in messages if {m["S"], "*"} & connection.subscriptions[CHANNEL_OF_TYPE[m["T"]]]]

        return self._call(self._deliver(DATA, subscribed, batch))

    def push_trade_update(self, update: dict) -> int:
        """Sends `{"stream": "trade_updates", "data": update}` (see `order_update`) to every authenticated
        trading connection listening to trade_updates. Returns how many connections it went to."""
        message = {"stream": "trade_updates", "data": update}
        return self._call(
            self._deliver(TRADING, lambda connection: [message] if "trade_updates" in connection.streams else [])
        )

    def drop(self, kind: str = DATA, *, abrupt: bool = False, code: int = 1001) -> int:
        """Ends every open connection of `kind` now: a WebSocket close with `code` or, `abrupt`, a TCP
        reset. Returns how many; once it returns they are closed in `connections`."""
        return self._call(self._drop_all(kind, abrupt, code))

    def drop_after(self, messages: int, kind: str = DATA, *, abrupt: bool = False, code: int = 1001) -> None:
        """Once `messages` more messages have gone out on connections of `kind`, drops the one the last
        went to, once. The rest of that push is lost to it, as on a real disconnect."""
        with self._changed:
            self._drops[kind] = _Drop(messages, abrupt, code)

    def refuse_auth(self, kind: str = DATA, *, code: int = 402, times: int | None = None) -> None:
        """The next `times` auth messages of `kind` (None: until `allow_auth`) are refused: with the error
        frame `code` (data), or `"status": "unauthorized"` (trading). Wrong keys are always refused."""
        if kind == DATA and code not in AUTH_ERRORS:
            raise ValueError(f"{code} is not one of the market data stream's auth errors: {sorted(AUTH_ERRORS)}")
        with self._changed:
            self._refused_auth[kind] = _Refusal(code if kind == DATA else 401, times)

    def allow_auth(self, kind: str = DATA) -> None:
        with self._changed:
            self._refused_auth.pop(kind, None)

    def refuse_connections(self, kind: str = DATA, *, status: int = 429, times: int | None = None) -> None:
        """The next `times` connections of `kind` (None: until `accept_connections`) are refused at the HTTP
        upgrade with `status`, as Alpaca answers too many connection attempts."""
        with self._changed:
            self._refused_connections[kind] = _Refusal(status, times)

    def accept_connections(self, kind: str = DATA) -> None:
        with self._changed:
            self._refused_connections.pop(kind, None)

    def delay_handshake(self, seconds: float, kind: str = DATA) -> None:
        """Holds back the welcome and the auth reply (trading: the auth reply) by `seconds`; 0 ends it.
        alpaca-py waits for both without a timeout, so a long delay stalls the client."""
        with self._changed:
            self._handshake_delays[kind] = seconds

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Returns once `condition()` (which may read `connections`) holds, checked at every change."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise TimeoutError(f"not within {timeout} s; connections:\n{self._describe()}")

    def wait_for_subscription(self, channel: str, *symbols: str, timeout: float = 5.0) -> StreamConnection:
        """Waits until an open data connection has exactly `symbols` subscribed on `channel`, e.g. after
        a reconnect; returns that connection."""
        wanted = set(symbols)

        def subscribed() -> StreamConnection | None:
            return next(
                (
                    c
                    for c in self._connections
                    if c.kind == DATA and c.open and c.authenticated and c.subscriptions[channel] == wanted
                ),
                None,
            )

        self.wait_until(lambda: subscribed() is not None, timeout)
        with self._changed:
            return copy.deepcopy(subscribed())

    def wait_for_listener(self, timeout: float = 5.0) -> StreamConnection:
        """Waits until an open trading connection listens to trade_updates; returns it."""

        def listening() -> StreamConnection | None:
            return next(
                (
                    c
                    for c in self._connections
                    if c.kind == TRADING and c.open and c.authenticated and "trade_updates" in c.streams
                ),
                None,
            )

        self.wait_until(lambda: listening() is not None, timeout)
        with self._changed:
            return copy.deepcopy(listening())

    def _describe(self) -> str:
        return (
            "\n".join(
                f"  #{c.number} {c.kind} {c.path} {'open' if c.open else 'refused' if c.refused else 'closed'}"
                f" auth={'ok' if c.authenticated else c.auth_error} sent={c.sent}"
                f" {self._subscribed(c)}"
                for c in self._connections
            )
            or "  none"
        )

    # --- serving (on the stand-in's loop) ------------------------------------------------------

    @staticmethod
    def _subscribed(connection) -> object:
        if connection.kind == DATA:
            return {channel: sorted(symbols) for channel, symbols in connection.subscriptions.items() if symbols}
        return sorted(connection.streams)

    def _admit(self, connection: ServerConnection, request: Request):
        """Records every upgrade request and refuses those a test asked to refuse."""
        kind = TRADING if urlsplit(request.path).path == TRADING_PATH else DATA
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        with self._changed:
            record = StreamConnection(len(self._connections) + 1, kind, request.path, headers, time.monotonic())
            self._connections.append(record)
            refusal = self._take(self._refused_connections, kind)
            if refusal is None and kind == DATA and headers.get("content-type") != "application/msgpack":
                self.errors.append(AssertionError(f"a data client that did not ask for msgpack: {headers}"))
                refusal = _Refusal(415, None)
            if refusal is None:
                self._open[connection] = record
            else:
                record.refused = refusal.code
            self._changed.notify_all()
        return None if refusal is None else connection.respond(refusal.code, "refused by the test\n")

    async def _handle(self, connection: ServerConnection) -> None:
        record = self._open.get(connection)
        if record is None:  # a test dropped it while its upgrade was under way
            return
        reply_to = self._data_reply if record.kind == DATA else self._trading_reply
        try:
            if record.kind == DATA:  # the market data stream greets; trade_updates waits for the auth
                await self._handshake_pause(connection, DATA)
                await connection.send(self._encode(DATA, [{"T": "success", "msg": "connected"}]))
            async for frame in connection:
                message = msgpack.unpackb(frame) if record.kind == DATA else json.loads(frame)
                with self._changed:
                    record.received.append(message)
                    reply = reply_to(record, message)
                    self._changed.notify_all()
                if message.get("action") in ("auth", "authenticate"):
                    await self._handshake_pause(connection, record.kind)
                # Market data frames are arrays of messages, trade_updates frames a single one.
                await connection.send(self._encode(record.kind, [reply] if record.kind == DATA else reply))
        except ConnectionClosed:
            pass
        except Exception as error:  # noqa: BLE001 - any failure of the stand-in must fail the test
            self.errors.append(error)
        finally:
            self._closed(connection)

    def _data_reply(self, record: StreamConnection, message: dict) -> dict:
        """Alpaca's answer to what alpaca-py sends; anything else it would not send is a stand-in error."""
        action = message.get("action")
        if action == "auth" and not record.authenticated:
            return self._authenticate_data(record, message)
        channels = {key: value for key, value in message.items() if key != "action"}
        if not (
            record.authenticated
            and action in ("subscribe", "unsubscribe")
            and all(key in CHANNELS and isinstance(value, list) for key, value in channels.items())
        ):
            raise AssertionError(f"unexpected market data message: {message!r}")
        for channel, symbols in channels.items():
            if action == "subscribe":
                record.subscriptions[channel].update(symbols)
            else:
                record.subscriptions[channel].difference_update(symbols)
        # Alpaca acknowledges with the whole set, corrections and cancels mirroring trades.
        subscribed = {channel: sorted(symbols) for channel, symbols in record.subscriptions.items()}
        return {
            "T": "subscription",
            **subscribed,
            "corrections": subscribed["trades"],
            "cancelErrors": subscribed["trades"],
        }

    def _authenticate_data(self, record: StreamConnection, message: dict) -> dict:
        record.key = message.get("key")
        refusal = self._take(self._refused_auth, DATA)
        if refusal is not None:
            code = refusal.code
        elif (message.get("key"), message.get("secret")) != (self.api_key, self.secret_key):
            code = 402
        elif self.data_connection_limit is not None and self.data_connection_limit <= sum(
            c.kind == DATA and c.authenticated for c in self._open.values()
        ):
            code = 406
        else:
            code = None
        record.auth_error, record.authenticated = code, code is None
        if code is None:
            return {"T": "success", "msg": "authenticated"}
        return {"T": "error", "code": code, "msg": AUTH_ERRORS[code]}

    def _trading_reply(self, record: StreamConnection, message: dict) -> dict:
        action, data = message.get("action"), message.get("data") or {}
        if action == "authenticate":
            record.key = data.get("key_id")
            refused = self._take(self._refused_auth, TRADING) is not None or (
                data.get("key_id"),
                data.get("secret_key"),
            ) != (self.api_key, self.secret_key)
            record.auth_error, record.authenticated = (401 if refused else None), not refused
            status = "unauthorized" if refused else "authorized"
            return {"stream": "authorization", "data": {"action": "authenticate", "status": status}}
        if action == "listen" and record.authenticated:
            record.streams = set(data.get("streams") or [])
            return {"stream": "listening", "data": {"streams": sorted(record.streams)}}
        raise AssertionError(f"unexpected trade_updates message: {message!r}")

    async def _deliver(self, kind: str, select: Callable[[StreamConnection], list[dict]], batch: bool = False) -> int:
        deliveries = []
        with self._changed:
            for connection, record in self._open.items():
                messages = select(record) if record.kind == kind and record.authenticated else []
                if not messages:
                    continue
                drop = self._drops.get(kind)
                if drop is not None and drop.after <= len(messages):
                    messages = messages[: drop.after]
                    del self._drops[kind]
                elif drop is not None:
                    drop.after -= len(messages)
                    drop = None
                record.sent += len(messages)
                deliveries.append((connection, messages, drop))
            self._changed.notify_all()
        for connection, messages, drop in deliveries:
            # Market data goes out as arrays, batched or not; trade updates one object per frame.
            frames = ([messages] if batch else [[message] for message in messages]) if kind == DATA else messages
            with suppress(ConnectionClosed):
                for frame in frames:
                    await connection.send(self._encode(kind, frame))
            if drop is not None:
                await self._drop(connection, drop.abrupt, drop.code)
        return sum(len(messages) for _, messages, _ in deliveries)

    async def _drop_all(self, kind: str, abrupt: bool, code: int) -> int:
        connections = [connection for connection, record in self._open.items() if record.kind == kind]
        await asyncio.gather(*(self._drop(connection, abrupt, code) for connection in connections))
        return len(connections)

    async def _drop(self, connection: ServerConnection, abrupt: bool, code: int) -> None:
        if abrupt:
            # SO_LINGER 0: closing sends a TCP reset instead of a FIN, like a peer that vanished.
            connection.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            connection.transport.abort()
        else:
            await connection.close(code, "dropped by the test")
        self._closed(connection)

    def _closed(self, connection: ServerConnection) -> None:
        with self._changed:
            record = self._open.pop(connection, None)
            if record is not None:
                record.closed_at = time.monotonic()
                self._changed.notify_all()

    async def _handshake_pause(self, connection: ServerConnection, kind: str) -> None:
        """Waits out an injected delay, cut short when the connection closes (the client gave up, or the
        stand-in is stopping), so a long delay never holds a connection open or the shutdown up."""
        with self._changed:
            seconds = self._handshake_delays.get(kind, 0)
        if seconds:
            with suppress(TimeoutError):
                await asyncio.wait_for(connection.wait_closed(), seconds)

    def _encode(self, kind: str, payload) -> bytes | str:
        if kind == DATA:
            return msgpack.packb(payload, datetime=True)  # aware datetimes become msgpack Timestamps
        text = json.dumps(payload)
        return text if self.trade_updates_as_text else text.encode()

    @staticmethod
    def _take(refusals: dict[str, _Refusal], kind: str) -> _Refusal | None:
        """The refusal armed for `kind`, if any, counting one use of it."""
        refusal = refusals.get(kind)
        if refusal is not None and refusal.times is not None:
            refusal.times -= 1
            if refusal.times == 0:
                del refusals[kind]
        return refusal


@contextmanager
def running(stream, *, stop_timeout: float = 5.0) -> Iterator[threading.Thread]:
    """Runs an alpaca-py stream (StockDataStream or TradingStream, its handlers registered) the way the
    module docstring recommends for a service, in a thread of its own that lives as long as the stream
    (it ends early only when the stream does, after a 409 at auth); stops it on exit."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(_run(stream, stop, stop_timeout),),
        name=f"alpaca-{type(stream).__name__}",
        daemon=True,
    )
    thread.start()
    try:
        yield thread
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(stop_timeout + 5)
        loop.close()


async def _run(stream, stop: asyncio.Event, stop_timeout: float) -> None:
    task = asyncio.create_task(stream._run_forever())
    stopping = asyncio.create_task(stop.wait())
    # Waiting lets the task take its first step before any stop_ws(), which would be forgotten otherwise.
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():  # it ended by itself (a 409 at auth)
        return await task
    await stream.stop_ws()
    deadline = asyncio.get_running_loop().time() + stop_timeout
    while not task.done() and asyncio.get_running_loop().time() < deadline:
        # Closing wakes its receive poll or a handshake wait; again, for a socket that was still opening.
        await stream.close()
        await asyncio.wait([task], timeout=0.05)
    if not task.done():  # a handler that does not return: cancel it, and close what it left open
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await stream.close()
