"""The live streams: Alpaca's market data (trades and minute bars) and trade_updates, and the simulated
market's trades, each delivering to one `StreamSink`. Which symbols and accounts to stream, and what a
trade, bar or order update does, is the caller's (bots.stream); this module only carries them.

alpaca-py's clients run as tests/alpaca_stream_stub.py's docstring recommends: each on an event loop of
its own in a thread of its own, handlers registered before it starts, subscriptions changed from
another thread only, stopped with stop_ws() and close(). They reconnect with back-off and re-subscribe
by themselves; nothing sent meanwhile is replayed, so each reconnect tells the sink since when it was
blind (`gap`) for a back-fill over REST. Handlers run on the loop that reads the socket: the sink must
only hand work on, never do it there.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from brokers.base import OrderResult
from market.sim_stream import TRADE_OFFSETS, StreamBar, StreamTrade, minute_bar, minute_trades

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5.0
_MINUTE = timedelta(minutes=1)


class StreamSink(Protocol):
    """Where streams deliver. Called on the stream's reading loop: return at once."""

    def trade(self, feed: Hashable, trade: StreamTrade) -> None: ...

    def bar(self, feed: Hashable, bar: StreamBar) -> None: ...

    def order_update(self, account: Hashable, event: str, result: OrderResult) -> None: ...

    def gap(self, source: Hashable, since: datetime) -> None:
        """A connection came back after a drop: what it carried between `since` and now is lost."""


@dataclass
class StreamState:
    """What /health shows of one connection."""

    name: str
    connected: bool = False
    subscriptions: int = 0
    last_message_at: float | None = None  # time.time()
    connects: int = 0
    down_since: float | None = field(default_factory=time.time)  # None while connected

    def report(self, now: float) -> dict:
        age = None if self.last_message_at is None else round(now - self.last_message_at, 1)
        return {
            "name": self.name,
            "connected": self.connected,
            "subscriptions": self.subscriptions,
            "last_message_age_seconds": age,
            "reconnects": max(self.connects - 1, 0),
            "down_seconds": None if self.down_since is None else round(now - self.down_since, 1),
        }


class _LoopThread:
    """An alpaca-py stream client run on its own loop in its own thread, stoppable from any other."""

    def __init__(self, client, name: str):
        self.client = client
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._run(),), name=name, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(STOP_TIMEOUT_SECONDS + 2)
        if not self._thread.is_alive():
            self._loop.close()

    async def _run(self) -> None:
        task = asyncio.create_task(self.client._run_forever())
        stopping = asyncio.create_task(self._stop.wait())
        # Let the task take its first step: a stop_ws() before it would be forgotten.
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if task.done():  # it ended by itself: Alpaca refused the feed (409 insufficient subscription)
            logger.error("%s ended: %s", self._thread.name, task.exception() or "refused by Alpaca")
            return
        await self.client.stop_ws()
        deadline = asyncio.get_running_loop().time() + STOP_TIMEOUT_SECONDS
        while not task.done() and asyncio.get_running_loop().time() < deadline:
            # Closing wakes its receive poll or a handshake wait; again, for a socket still opening.
            await self.client.close()
            await asyncio.wait([task], timeout=0.05)
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            await self.client.close()


def _watched(base):
    """alpaca-py's stream class, telling `state` when a session is up and down (it offers no hook)."""

    class Watched(base):
        def watch(self, state: StreamState, on_reconnect: Callable[[datetime], None]) -> None:
            self._state, self._on_reconnect = state, on_reconnect
            self._down_since: datetime | None = None
            self.seen_until: datetime | None = None  # the market time of the last data received

        async def _start_ws(self) -> None:
            await super()._start_ws()
            self._state.connected, self._state.down_since = True, None
            self._state.connects += 1
            if self._state.connects > 1:
                self._on_reconnect(self.seen_until or self._down_since or datetime.now(UTC))

        async def close(self) -> None:
            if self._state.connected:
                self._down_since = datetime.now(UTC)
                self._state.down_since = time.time()
            self._state.connected = False
            await super().close()

    return Watched


class AlpacaMarketStream:
    """Trades and minute bars of a set of symbols from one Alpaca data feed (one per account's keys:
    Alpaca allows one connection)."""

    def __init__(self, *, feed: Hashable, url: str, api_key: str, secret_key: str, data_feed: str, sink: StreamSink):
        from alpaca.data.enums import DataFeed
        from alpaca.data.live import StockDataStream

        self.feed, self.sink = feed, sink
        self.state = StreamState(f"alpaca data {data_feed}")
        # Raw messages: alpaca-py's pydantic models cost more than everything else a trade does here.
        self.client = _watched(StockDataStream)(
            api_key, secret_key, raw_data=True, feed=DataFeed(data_feed), url_override=url
        )
        self.client.watch(self.state, lambda since: sink.gap(feed, since))
        self._runner: _LoopThread | None = None
        self._lock = threading.Lock()

    @property
    def symbols(self) -> set[str]:
        return set(self.client._handlers["trades"])

    def set_symbols(self, wanted: Iterable[str], *, resend: bool = False) -> bool:
        """Subscribe exactly `wanted`; `resend` sends the whole set even when unchanged. Call from any
        thread but the stream's. False when the client is between sessions: try again shortly."""
        wanted = set(wanted)
        with self._lock:
            if self._runner is None:
                if not wanted:
                    return True  # alpaca-py spins at full CPU until it has a symbol: start it with one
                self.client.subscribe_trades(self._trade, *wanted)
                self.client.subscribe_bars(self._bar, *wanted)
                self._runner = _LoopThread(self.client, f"stream-{self.state.name}")
                self._runner.start()
            elif not self.client._running:
                return False
            else:
                current = self.symbols
                if removed := sorted(current - wanted):
                    self.client.unsubscribe_trades(*removed)
                    self.client.unsubscribe_bars(*removed)
                if (added := sorted(wanted - current)) or resend:
                    # Any subscribe sends the whole table: one covers a set alpaca-py may have missed.
                    self.client.subscribe_trades(self._trade, *added)
                    self.client.subscribe_bars(self._bar, *added)
            self.state.subscriptions = len(wanted)
        return True

    @property
    def in_session(self) -> bool:
        return self._runner is not None and self.client._running

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
        self.state.connected = False

    async def _trade(self, message: dict) -> None:
        self.state.last_message_at = time.time()
        at = _when(message["t"])
        self.client.seen_until = at
        self.sink.trade(
            self.feed, StreamTrade(message["S"], Decimal(str(message["p"])), int(message.get("s") or 0), at)
        )

    async def _bar(self, message: dict) -> None:
        self.state.last_message_at = time.time()
        opened = _when(message["t"])
        self.client.seen_until = max(self.client.seen_until or opened, opened)
        self.sink.bar(
            self.feed,
            StreamBar(
                symbol=message["S"],
                timeframe="1Min",
                opened=opened,
                open=Decimal(str(message["o"])),
                high=Decimal(str(message["h"])),
                low=Decimal(str(message["l"])),
                close=Decimal(str(message["c"])),
                volume=int(message["v"]),
            ),
        )


def _when(stamp) -> datetime:
    return stamp.to_datetime() if hasattr(stamp, "to_datetime") else datetime.fromisoformat(stamp)


class AlpacaOrderStream:
    """One Alpaca account's trade_updates, as the broker's OrderResult of each order it moves."""

    def __init__(self, *, account: Hashable, url: str, api_key: str, secret_key: str, paper: bool, sink: StreamSink):
        from alpaca.trading.stream import TradingStream

        self.account, self.sink = account, sink
        self.state = StreamState("alpaca trade_updates")
        self.client = _watched(TradingStream)(api_key, secret_key, paper=paper, url_override=url)
        self.client.watch(self.state, lambda since: sink.gap(account, since))
        self.client.subscribe_trade_updates(self._update)
        self._runner = _LoopThread(self.client, "stream-trade-updates")
        self._runner.start()

    def stop(self) -> None:
        self._runner.stop()
        self.state.connected = False

    async def _update(self, update) -> None:
        from brokers.alpaca import order_result

        self.state.last_message_at = time.time()
        event = getattr(update.event, "value", update.event)
        self.sink.order_update(self.account, event, order_result(update.order))


class SimulatedStream:
    """The simulated market's trades (market.sim_stream) as they happen on the clock, and each minute's
    bar once it closes: the simulated feed's stream, so the embedded run is live too."""

    def __init__(self, *, feed: Hashable, seed: int, sink: StreamSink, clock: Callable[[], datetime] | None = None):
        self.feed, self.seed, self.sink = feed, seed, sink
        self.clock = clock or (lambda: datetime.now(UTC))
        self.state = StreamState("simulated")
        self._symbols: frozenset[str] = frozenset()
        self._emitted_until = self.clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-simulated", daemon=True)
        self._thread.start()
        self.state.connected, self.state.connects, self.state.down_since = True, 1, None

    @property
    def symbols(self) -> set[str]:
        return set(self._symbols)

    @property
    def in_session(self) -> bool:
        return True

    def set_symbols(self, wanted: Iterable[str], *, resend: bool = False) -> bool:
        self._symbols = frozenset(wanted)
        self.state.subscriptions = len(self._symbols)
        return True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_TIMEOUT_SECONDS)
        self.state.connected = False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.emit_until(self.clock())
            except Exception:
                logger.exception("the simulated stream failed to emit")
            self._stop.wait(self._next_wait())

    def _next_wait(self) -> float:
        """Seconds until the next trade is due (each minute's are at TRADE_OFFSETS)."""
        now = self.clock()
        minute = now.replace(second=0, microsecond=0)
        due = [minute + offset for offset in TRADE_OFFSETS if minute + offset > now] + [minute + _MINUTE]
        return max(min(due) - now, timedelta(0)).total_seconds() + 0.001

    def emit_until(self, now: datetime) -> None:
        """Deliver every trade after the last emitted up to `now`, and the bars that closed meanwhile."""
        start, symbols = self._emitted_until, self._symbols
        if now <= start:
            return
        first = start.replace(second=0, microsecond=0)
        minute = first
        while minute <= now:
            for symbol in sorted(symbols):
                if minute > first and minute <= now:
                    self.sink.bar(self.feed, minute_bar(self.seed, symbol, minute - _MINUTE))
                for trade in minute_trades(self.seed, symbol, minute):
                    if start < trade.at <= now:
                        self.state.last_message_at = time.time()
                        self.sink.trade(self.feed, trade)
            minute += _MINUTE
        self._emitted_until = now
